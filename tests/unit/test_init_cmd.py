"""`driftline init`: what it infers from a sample CSV, the config it writes, and the files it refuses."""

from __future__ import annotations

import pytest
from driftline.config import parse_model_config
from driftline_local.ops.init_cmd import build_config, onboarding_commands
from driftline_local.ops.session import OpsError
from driftline_local.sample_data import generate_bank_marketing


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "calls.csv"
    generate_bank_marketing(300, seed=3).to_csv(path, index=False)
    return path


def test_features_problem_type_and_target_are_inferred_and_the_config_is_what_the_handler_accepts(sample):
    result = build_config("bank-marketing", sample)

    config = parse_model_config(result["yaml"], expected_name="bank-marketing")
    assert config.target == "y" and config.problem_type == "binary_classification"
    types = {f.name: f.type for f in config.features}
    assert types["age"] == "numeric" and types["job"] == "categorical"
    assert "y" not in types
    assert result["yaml"].startswith("# Driftline model config for bank-marketing")


def test_a_numeric_target_with_many_values_is_regression(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("rooms,area,price\n" + "".join(f"{i % 5},{50 + i},{1000 + i * 3.5}\n" for i in range(60)))

    result = build_config("house-prices", path, target="price")

    assert result["summary"]["problem_type"] == "regression"
    assert [f["type"] for f in result["summary"]["features"]] == ["numeric", "numeric"]


def test_three_label_values_make_multiclass(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xyz'[i % 3]}\n" for i in range(30)))

    assert build_config("iris", path)["summary"]["problem_type"] == "multiclass_classification"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b,y\n1,2,0\n3,4\n", "line 3 has 2 fields but the header has 3"),
        (b"a,b,y\n", "no examples"),
        (b"", "header"),
        (b"a,b,c\n1,2,3\n", "pass --target"),
        (b"a,b,y\n1,2,\n3,4,\n", "empty in every row"),
        (b"\xff\xfea,b,y\n1,2,0\n", "UTF-8"),
        (b"only\n1\n", "header naming every column"),
    ],
    ids=["ragged row", "header only", "empty file", "no target to guess", "no labels", "not UTF-8", "one column"],
)
def test_a_bad_csv_is_refused_with_what_is_wrong(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(OpsError) as refused:
        build_config("bank-marketing", path)

    assert expected in str(refused.value)


def test_a_target_that_is_not_a_column_names_the_columns(sample):
    with pytest.raises(OpsError, match="is not a column of .* its columns are age"):
        build_config("bank-marketing", sample, target="label")


def test_an_invalid_model_name_is_refused(sample):
    with pytest.raises(OpsError, match="not a valid model name"):
        build_config("Bank_Marketing", sample)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(OpsError, match="no such file"):
        build_config("bank-marketing", tmp_path / "nope.csv")


def test_onboarding_commands_upload_the_config_then_the_data(tmp_path):
    commands = onboarding_commands("churn", tmp_path / "model.yaml", tmp_path / "my data.csv", "bucket-1", None)

    assert commands == [
        f"aws s3 cp {tmp_path}/model.yaml s3://bucket-1/models/churn/model.yaml",
        f"aws s3 cp '{tmp_path}/my data.csv' 's3://bucket-1/incoming/churn/my data.csv'",
    ]

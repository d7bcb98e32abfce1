"""Batch predictions' rules (pure): the file check, the staged transform input, the job request and name."""

from datetime import UTC, datetime

import pytest
from driftline.batch import (
    check_batch_csv,
    job_name,
    output_key_of,
    relative_name,
    staged_lines,
    transform_request,
)
from driftline.config import Feature, ModelConfig
from driftline.errors import InvalidDataset
from driftline.uploads import UploadedObject

CONFIG = ModelConfig.model_validate(
    {"name": "churn", "problem_type": "binary_classification", "target": "y", "drop_columns": ["note"]}
)
FEATURES = [Feature(name="age", type="numeric"), Feature(name="plan", type="categorical")]


def _check(text: str, config: ModelConfig = CONFIG):
    return check_batch_csv([text.encode()], config, FEATURES)


def _staged(text: str) -> str:
    report = _check(text)
    return b"".join(staged_lines([text.encode()], report)).decode()


def test_a_file_with_the_features_in_any_order_and_an_id_is_accepted():
    report = _check("plan,id,age\nbasic,c-1,41\npro,c-2,35\n")

    assert report.rows == 2


def test_staged_input_has_no_header_and_puts_the_id_first_then_the_models_feature_order():
    assert _staged("plan,id,age\nbasic,c-1,41\npro,c-2,35\n") == "c-1,41,basic\nc-2,35,pro\n"


def test_without_an_id_column_each_row_carries_its_row_number():
    assert _staged("age,plan\n41,basic\n\n35,pro\n") == "1,41,basic\n2,35,pro\n"


def test_a_quoted_comma_stays_one_field_in_the_staged_input():
    assert _staged('id,age,plan\n"a,1",41,basic\n') == '"a,1",41,basic\n'


def test_the_target_column_is_refused_with_where_labelled_data_goes():
    with pytest.raises(InvalidDataset, match="incoming/churn/") as caught:
        _check("id,age,plan,y\n1,41,basic,no\n")

    assert caught.value.rule == "target-column"


def test_a_missing_feature_is_refused_naming_it():
    with pytest.raises(InvalidDataset, match="missing feature column\\(s\\) plan") as caught:
        _check("id,age\n1,41\n")

    assert caught.value.rule == "columns"


def test_an_unknown_column_is_refused_by_position_not_by_name():
    with pytest.raises(InvalidDataset, match="position\\(s\\) 4") as caught:
        _check("id,age,plan,secret_column\n1,41,basic,x\n")

    assert "secret_column" not in str(caught.value)


def test_a_drop_column_is_allowed_and_never_staged():
    assert _staged("id,age,plan,note\n1,41,basic,hello\n") == "1,41,basic\n"


def test_a_field_spanning_lines_is_refused_because_line_split_would_cut_the_record():
    with pytest.raises(InvalidDataset) as caught:
        _check('id,age,plan\n1,41,"basic\nplus"\n')

    assert (caught.value.rule, caught.value.line) == ("multiline-field", 2)


def test_a_headerless_file_is_refused():
    with pytest.raises(InvalidDataset, match="no header row"):
        _check("1,41,3\n2,35,4\n")


def test_a_short_row_is_refused_with_its_line():
    with pytest.raises(InvalidDataset, match="line 3 has 2 fields"):
        _check("id,age,plan\n1,41,basic\n2,35\n")


def test_text_in_a_numeric_feature_is_refused():
    with pytest.raises(InvalidDataset) as caught:
        _check("id,age,plan\n1,old,basic\n2,young,pro\n")

    assert caught.value.rule == "numeric-feature"


def test_a_header_only_file_is_refused():
    with pytest.raises(InvalidDataset) as caught:
        _check("id,age,plan\n")

    assert caught.value.rule == "no-rows"


def test_the_transform_request_joins_the_input_and_hides_the_id_from_the_model():
    request = transform_request(
        CONFIG,
        "churn-batch-abc",
        model_name="churn-upload-20261128T050000-model",
        input_uri="s3://art/churn/batch/churn-batch-abc/input/",
        output_uri="s3://data/predictions/churn/",
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    )

    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == "text/csv"
    assert (request["BatchStrategy"], request["MaxPayloadInMB"]) == ("MultiRecord", 6)
    assert request["TransformOutput"]["AssembleWith"] == "Line"
    assert request["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}
    assert request["TransformResources"]["VolumeKmsKeyId"].endswith("key/k")


def _upload(key: str, version: str) -> UploadedObject:
    return UploadedObject(
        bucket="data", key=key, size=10, event_id="e", event_time=datetime(2026, 11, 28, tzinfo=UTC), version_id=version
    )


def test_the_job_name_is_one_per_object_version_and_fits_sagemakers_limit():
    long_model = "m" * 32
    first = job_name(long_model, _upload(f"batch/{long_model}/a.csv", "v1"))

    assert first == job_name(long_model, _upload(f"batch/{long_model}/a.csv", "v1"))
    assert first != job_name(long_model, _upload(f"batch/{long_model}/a.csv", "v2"))
    assert len(first) <= 63


def test_the_output_is_named_after_the_input_path_below_the_model_folder():
    assert output_key_of("churn", relative_name("batch/churn/2026/nov.csv")) == "predictions/churn/2026/nov.csv.out"

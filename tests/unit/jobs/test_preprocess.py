"""preprocess.py: raw CSVs in, encoded label-first splits, preprocessor.json and a drift baseline out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


def test_splits_are_encoded_label_first_without_header(pipelines, harness):
    bank = pipelines.preprocessed.bank
    width = len(bank.preprocessor["encoded_feature_names"])
    sizes = {}
    for split in ("train", "validation", "test"):
        labels, matrix = harness.read_label_first(bank.processed / split / f"{split}.csv")  # a header would not parse
        assert matrix.shape[1] == width
        assert set(np.unique(labels)) == {0.0, 1.0}
        sizes[split] = len(labels)
    assert sizes == bank.preprocessor["rows"] and sum(sizes.values()) == 4000
    # each row's split is decided by its key alone: the sizes are the fractions up to binomial noise
    assert abs(sizes["test"] - 600) < 4 * (4000 * 0.15 * 0.85) ** 0.5
    assert abs(sizes["validation"] - 600) < 4 * (4000 * 0.15 * 0.85) ** 0.5


def test_classification_splits_keep_the_class_balance(pipelines, harness):
    bank = pipelines.preprocessed.bank
    rates = [
        harness.read_label_first(bank.processed / s / f"{s}.csv")[0].mean() for s in ("train", "validation", "test")
    ]
    # stratified in expectation (the key is independent of the class): within 3 standard errors of 600 rows
    assert max(rates) - min(rates) < 3 * (0.12 * 0.88 / 600) ** 0.5


def test_preprocessor_records_features_imputation_categories_and_classes(pipelines):
    pre = pipelines.preprocessed.bank.preprocessor
    features = {f["name"]: f for f in pre["features"]}
    assert "duration" not in features and "y" not in features  # dropped column and target
    assert pre["feature_names"][:3] == ["age", "job", "marital"]  # the CSV's column order
    assert features["age"]["type"] == "numeric" and 30 <= features["age"]["impute_value"] <= 50
    assert features["euribor3m"]["type"] == "numeric"
    assert features["job"]["type"] == "categorical" and "unknown" in features["job"]["categories"]
    assert features["month"]["categories"] == sorted(features["month"]["categories"])
    assert pre["problem_type"] == "binary_classification"
    assert pre["classes"] == ["no", "yes"] and pre["positive_class"] == "yes"
    assert "job=admin." in pre["encoded_feature_names"]


def test_baseline_holds_the_raw_training_features_with_a_header(pipelines):
    bank = pipelines.preprocessed.bank
    baseline = pd.read_csv(bank.processed / "baseline" / "baseline.csv")
    assert list(baseline.columns) == bank.preprocessor["feature_names"]
    assert len(baseline) == bank.preprocessor["rows"]["train"]  # every training row, up to --baseline-rows
    assert set(baseline["contact"]) == {"cellular", "telephone"}


def test_multiclass_labels_index_the_sorted_classes(pipelines, harness):
    segments = pipelines.preprocessed.segments
    assert segments.preprocessor["classes"] == ["bronze", "gold", "platinum", "silver"]
    labels, _ = harness.read_label_first(segments.processed / "train" / "train.csv")
    assert set(np.unique(labels)) == {0.0, 1.0, 2.0, 3.0}


def test_missing_numbers_are_imputed_with_the_training_median(pipelines, harness):
    prices = pipelines.preprocessed.prices
    age = next(f for f in prices.preprocessor["features"] if f["name"] == "age_years")
    baseline = pd.read_csv(prices.processed / "baseline" / "baseline.csv")
    assert baseline["age_years"].isna().any()
    assert age["impute_value"] == pytest.approx(baseline["age_years"].median())
    _, matrix = harness.read_label_first(prices.processed / "train" / "train.csv")
    assert not np.isnan(matrix).any()


def test_messy_values_are_cleaned_and_rows_without_target_dropped(tmp_path, harness):
    data = tmp_path / "data" / "nested"
    data.mkdir(parents=True)
    rows = ["id, size ,colour,label"]
    for i in range(60):
        size = "?" if i % 10 == 0 else ("NA" if i % 10 == 1 else f" {i % 7} ")
        label = "" if i % 20 == 0 else ("Yes" if i % 3 == 0 else "No")
        rows.append(f"{i}, {size},  {['red', 'blue', 'unknown'][i % 3]} ,{label}")
    (data / "part1.csv").write_text("\n".join(rows) + "\n")
    config = harness.base_config("messy", "binary_classification", "label", drop_columns=["id"])
    config["features"] = [{"name": "size", "type": "numeric"}, {"name": "colour", "type": "categorical"}]
    (tmp_path / "config.json").write_text(json.dumps(config))

    harness.run_all(
        [
            harness.Job(
                "preprocess.py",
                [
                    "--config",
                    str(tmp_path / "config.json"),
                    "--data-dir",
                    str(tmp_path / "data"),
                    "--output-dir",
                    str(tmp_path / "out"),
                ],
            )
        ]
    )

    pre = json.loads((tmp_path / "out" / "preprocessor" / "preprocessor.json").read_text())
    assert pre["feature_names"] == ["size", "colour"]
    assert pre["features"][1]["categories"] == ["blue", "red", "unknown"]  # stripped; "unknown" kept
    assert pre["classes"] == ["No", "Yes"] and pre["positive_class"] == "Yes"
    assert sum(pre["rows"].values()) == 57  # three rows had no label
    baseline = pd.read_csv(tmp_path / "out" / "baseline" / "baseline.csv")
    assert baseline["size"].isna().any()  # "?" and "NA" are missing values


def test_encoding_is_reversible_for_scoring_another_model(pipelines, harness):
    bank = pipelines.preprocessed.bank
    common = harness.load_job_module("_common")
    _, matrix = harness.read_label_first(bank.processed / "test" / "test.csv")
    raw = common.decode_matrix(matrix, bank.preprocessor)
    assert np.allclose(common.encode_frame(raw, bank.preprocessor), matrix)


def test_a_config_feature_missing_from_the_data_fails_naming_it(tmp_path, harness):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,y\n1,x\n2,z\n")
    config = harness.base_config("bad", "binary_classification", "y", features=[{"name": "b", "type": "numeric"}])
    (tmp_path / "config.json").write_text(json.dumps(config))
    preprocess = harness.load_job_module("preprocess")

    code = preprocess.main(
        [
            "--config",
            str(tmp_path / "config.json"),
            "--data-dir",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )

    assert code == 1
    with pytest.raises(preprocess.JobInputError, match="no column"):
        preprocess.preprocess(config, tmp_path / "data", tmp_path / "again", 1)


def test_rows_trained_on_in_one_run_stay_out_of_the_next_runs_test_set(harness):
    from driftline_local.sample_data import generate_bank_marketing

    preprocess = harness.load_job_module("preprocess")
    bounds = preprocess.split_bounds({"split": {}})
    everything = generate_bank_marketing(4000, seed=21).astype(str).astype(object)
    first = everything.iloc[:2000].reset_index(drop=True)

    before = preprocess.split_of(preprocess.row_keys(first, 42), bounds)
    after = preprocess.split_of(preprocess.row_keys(everything, 42), bounds)

    # a row's split depends on its content alone: no row moves when more data arrives
    assert (after[:2000] == before).all()
    assert set(np.unique(after)) == {0, 1, 2}


def test_a_file_that_does_not_parse_fails_naming_the_file_and_line_not_its_content(tmp_path, harness):
    (tmp_path / "data" / "batch").mkdir(parents=True)
    (tmp_path / "data" / "good.csv").write_text("a,y\n1,x\n2,z\n")
    (tmp_path / "data" / "batch" / "ragged.csv").write_text("a,y\n1,x\n2,z,secret-value\n")
    preprocess = harness.load_job_module("preprocess")

    with pytest.raises(preprocess.JobInputError) as error:
        files = preprocess.input_files(tmp_path / "data")
        list(preprocess.read_chunks(files, tmp_path / "data", preprocess.header_columns(files, tmp_path / "data"), 10))

    assert "batch/ragged.csv" in str(error.value) and "line 3" in str(error.value)
    assert "secret-value" not in str(error.value)


def test_a_failed_run_writes_its_reason_where_sagemaker_reads_it(tmp_path, harness):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ragged.csv").write_text("a,y\n1,x\n2,z,secret-value\n")
    config = harness.base_config("bad", "binary_classification", "y")
    (tmp_path / "config.json").write_text(json.dumps(config))
    message = tmp_path / "output" / "message"
    preprocess = harness.load_job_module("preprocess")

    code = preprocess.main(
        [
            "--config",
            str(tmp_path / "config.json"),
            "--data-dir",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "out"),
            "--exit-message",
            str(message),
        ]
    )

    assert code == 1
    assert message.read_text().startswith("preprocessing failed: ragged.csv: ")
    assert "line 3" in message.read_text() and "secret-value" not in message.read_text()


def test_failure_messages_name_the_rule_not_the_labels_or_headers(tmp_path, harness):
    # Exit messages reach on-call's pages: they say what is wrong, never values or column names from the data
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,secret_header,y\n1,2,secret-label\n3,4,secret-label\n")
    preprocess = harness.load_job_module("preprocess")
    messages = []
    for target in ("y", "absent"):
        config = harness.base_config("bad", "binary_classification", target)
        with pytest.raises(preprocess.JobInputError) as error:
            preprocess.preprocess(config, tmp_path / "data", tmp_path / f"out-{target}", 1)
        messages.append(str(error.value))

    assert "single value" in messages[0] and "no target column 'absent'" in messages[1]
    assert not any("secret" in message for message in messages), messages

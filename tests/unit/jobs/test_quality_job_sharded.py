"""quality.py over a sharded capture: each instance's partial join merges into the reports one instance writes.

The capture files are dealt to the hosts whole, keeping their path below the capture directory, as
ShardedByS3Key does; labels, evaluation, preprocessor and config are every host's (FullyReplicated).
Merged and unsharded reports are compared key by key and exactly (floats too): the merge orders the joined
rows as the unsharded run reads them, so even the bootstrap deviations are the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

WINDOW = ("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z")
OUTPUTS = ("statistics.json", "constraints.json", "constraint_violations.json", "quality_summary.json")
CLASSES = {"binary_classification": ["no", "yes"], "multiclass_classification": ["a", "b", "c"]}
REFERENCE = {
    "binary_classification": {"auc": 0.9, "accuracy": 0.85, "f1": 0.8},
    "multiclass_classification": {"auc": 0.9, "accuracy": 0.8, "f1": 0.8},
    "regression": {"rmse": 1.0, "mae": 0.8},
}


@pytest.fixture(scope="module")
def quality(harness):
    return harness.load_job_module("quality")


# --- inputs -----------------------------------------------------------------------------------------


def capture_line(inference_id: str | None, body: str, content_type: str, minute: int) -> str:
    metadata: dict[str, Any] = {"eventId": f"e-{inference_id}", "inferenceTime": f"2026-12-01T10:{minute:02d}:00.000Z"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    output = {
        "observedContentType": content_type,
        "mode": "OUTPUT",
        "data": body,
        "encoding": "CSV" if content_type == "text/csv" else "JSON",
    }
    endpoint_input = {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"}
    record = {"captureData": {"endpointInput": endpoint_input, "endpointOutput": output}, "eventMetadata": metadata}
    return json.dumps(record, separators=(",", ":"))


def answer(problem: str, rng: np.random.Generator, truth: str) -> tuple[str, str]:
    """(body, content type) of a plausible answer for a row whose label is `truth`."""
    if problem == "regression":
        return f"{float(truth) + rng.normal(0, 1.2):.6f}\n", "text/csv"
    classes = CLASSES[problem]
    if problem == "binary_classification":
        score = float(np.clip((0.35 if truth == "yes" else 0.0) + rng.random() * 0.65, 0, 1))
        if rng.random() < 0.5:
            return f"{score:.4f}\n", "text/csv"
        label = "yes" if score >= 0.5 else "no"
        return json.dumps({"predictions": [{"score": score, "label": label}]}), "application/json"
    raw = rng.random(3) + np.eye(3)[classes.index(truth)] * 0.7
    probabilities = raw / raw.sum()
    item = {
        "label": classes[int(np.argmax(probabilities))],
        "probabilities": dict(zip(classes, probabilities.tolist(), strict=True)),
    }
    return json.dumps({"predictions": [item]}), "application/json"


def truth_of(problem: str, rng: np.random.Generator) -> str:
    if problem == "regression":
        return f"{rng.normal(20, 4):.3f}"
    return str(rng.choice(CLASSES[problem]))


def other(problem: str, truth: str) -> str:
    """A label that contradicts `truth`."""
    if problem == "regression":
        return f"{float(truth) + 1.5:.3f}"
    classes = CLASSES[problem]
    return classes[(classes.index(truth) + 1) % len(classes)]


CaptureFile = tuple[str, list[str]]  # (path below the capture directory, lines)


def traffic(problem: str, seed: int = 5) -> tuple[list[CaptureFile], list[tuple[str, str]], list[tuple[str, str]]]:
    """Five capture files of the window over two variants (one more after it), and two label files.

    Besides plain labelled and unlabelled predictions: records without an id, one answering two rows, a bad
    JSON line, an id answered twice in two files, a label of an id never captured, labels the second file
    changes, and (classification) a label of a class the model does not know.
    """
    rng = np.random.default_rng(seed)
    files: list[CaptureFile] = []
    first: list[tuple[str, str]] = []
    second: list[tuple[str, str]] = []
    layout = [("0", "AllTraffic", 5), ("1", "AllTraffic", 20), ("0", "candidate-1", 7), ("2", "AllTraffic", 41)]
    layout += [("1", "candidate-1", 55)]
    for number, (entry, variant, minute) in enumerate(layout):
        lines: list[str] = []
        for row in range(40):
            inference_id = f"f{number}-r{row}"
            truth = truth_of(problem, rng)
            body, content_type = answer(problem, rng, truth)
            lines.append(capture_line(inference_id, body, content_type, minute))
            if rng.random() < 0.7:
                first.append((inference_id, truth))
        lines.append(capture_line(None, "0.5\n", "text/csv", minute))
        lines.append(capture_line(f"f{number}-two", "0.5\n0.6\n", "text/csv", minute))
        lines.append("{not json")
        body, content_type = answer(problem, rng, truth_of(problem, rng))
        lines.append(capture_line("answered-twice", body, content_type, minute))  # in every file: several shards
        files.append((f"{entry}/{variant}/2026/12/01/10/{minute:02d}-00-000-f{number}.jsonl", lines))
    body, content_type = answer(problem, rng, truth_of(problem, rng))
    files.append(("0/AllTraffic/2026/12/01/11/05-00-000-late.jsonl", [capture_line("late", body, content_type, 5)]))
    first += [("answered-twice", truth_of(problem, rng)), ("never-captured", truth_of(problem, rng))]
    first.append(("late", truth_of(problem, rng)))
    second += [(inference_id, other(problem, truth)) for inference_id, truth in first[:6]]  # conflicts, later wins
    if problem != "regression":
        second.append(("f1-r0", "unknown-class"))
    return files, first, second


def write_files(root: Path, files: list[CaptureFile]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def deal(files: list[CaptureFile], hosts: int) -> dict[str, list[CaptureFile]]:
    """Whole files to hosts, round-robin (the local cloud's ShardedByS3Key; AWS does not say which goes where)."""
    return {f"algo-{k + 1}": files[k::hosts] for k in range(hosts)}


def write_common(root: Path, problem: str, first: list[tuple[str, str]], second: list[tuple[str, str]]) -> list[str]:
    """Labels, evaluation, preprocessor and config; the arguments naming them."""
    (root / "labels").mkdir(parents=True)
    for name, rows in (("batch-1.csv", first), ("batch-2.csv", second)):
        (root / "labels" / name).write_text("inference_id,y\n" + "".join(f"{i},{y}\n" for i, y in rows))
    (root / "evaluation").mkdir()
    (root / "evaluation" / "evaluation.json").write_text(json.dumps({"metrics": REFERENCE[problem]}))
    (root / "preprocessor").mkdir()
    (root / "preprocessor" / "preprocessor.json").write_text(json.dumps({"classes": CLASSES.get(problem)}))
    config = {"name": "churn", "problem_type": problem, "target": "y", "monitoring": {"quality": {"min_labels": 20}}}
    (root / "config.json").write_text(json.dumps(config))
    return [
        "--labels-dir", str(root / "labels"),
        "--evaluation", str(root / "evaluation" / "evaluation.json"),
        "--preprocessor-dir", str(root / "preprocessor"),
        "--config", str(root / "config.json"),
        "--window-start", WINDOW[0], "--window-end", WINDOW[1],
        "--exit-message", str(root / "message"),
    ]  # fmt: skip


def resource_config(root: Path, host: str, hosts: list[str]) -> Path:
    path = root / f"resourceconfig-{host}.json"
    path.write_text(json.dumps({"current_host": host, "hosts": hosts}))
    return path


def run(quality: Any, *args: str) -> None:
    assert quality.main(list(args)) == 0


def run_sharded(quality: Any, root: Path, common: list[str], shards: dict[str, list[CaptureFile]]) -> Path:
    """Every host's partial stage, then the merge; returns the merged report's directory."""
    for host, files in shards.items():
        write_files(root / "shards" / host, files)
        run(
            quality,
            *common,
            "--stage", "partial",
            "--capture-dir", str(root / "shards" / host),
            "--output-dir", str(root / "partial-out"),
            "--resource-config", str(resource_config(root, host, list(shards))),
        )  # fmt: skip
    merged = root / "merged"
    run(
        quality,
        *common,
        "--stage", "merge",
        "--partials-dir", str(root / "partial-out" / "partials"),
        "--output-dir", str(merged),
    )  # fmt: skip
    return merged


def reports(folder: Path) -> dict[str, Any]:
    found = {name: json.loads((folder / name).read_text()) for name in OUTPUTS}
    found["statistics.json"]["dataset"].pop("evaluation_time")  # when the report was written
    return found


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["binary_classification", "multiclass_classification", "regression"])
@pytest.mark.parametrize("hosts", [2, 3])
def test_merged_partials_report_exactly_what_one_instance_reports(quality, tmp_path, problem, hosts):
    # Given a window's capture (every kind of record) and labels (conflicts, an unknown class, ids never captured)
    files, first, second = traffic(problem)
    common = write_common(tmp_path, problem, first, second)
    write_files(tmp_path / "capture", files)
    # When one instance reads it all, and `hosts` instances each read their whole files and a merge adds them up
    run(quality, *common, "--capture-dir", str(tmp_path / "capture"), "--output-dir", str(tmp_path / "one"))
    merged = run_sharded(quality, tmp_path, common, deal(files, hosts))
    # Then every output file is the same, key by key, floats exactly (bootstrap deviations included)
    one = reports(tmp_path / "one")
    assert reports(merged) == one
    summary = one["quality_summary.json"]
    assert summary["quality_judged"] and summary["conflicting_labels"] >= 6 and summary["missing_labels"] > 0
    assert summary["unjoinable_records"] == {"bad_json_line": 5, "no_inference_id": 5, "several_rows_one_id": 5}
    assert summary["labels_of_unknown_classes"] == (0 if problem == "regression" else 1)
    assert set(summary["variants"]) == {"AllTraffic", "candidate-1"}
    metrics = one["statistics.json"][f"{problem}_metrics"]
    assert all(entry["standard_deviation"] > 0 for name, entry in metrics.items() if name != "confusion_matrix")


def test_a_prediction_in_one_shard_is_labelled_once_though_every_instance_has_its_label(quality, tmp_path):
    # Given one labelled prediction, in the file algo-1 reads; both instances get every label
    common = write_common(tmp_path, "binary_classification", [("p1", "yes"), ("elsewhere", "no")], [])
    line = capture_line("p1", "0.9\n", "text/csv", 5)
    files = [
        ("0/AllTraffic/2026/12/01/10/05-00-000-a.jsonl", [line]),
        ("0/AllTraffic/2026/12/01/10/06-00-000-b.jsonl", []),
    ]
    # When each instance joins its shard and the merge adds them up
    merged = run_sharded(quality, tmp_path, common, deal(files, 2))
    # Then the prediction is counted once, labelled once, and no label is missing
    summary = json.loads((merged / "quality_summary.json").read_text())
    assert (summary["predictions_with_id"], summary["labelled"], summary["missing_labels"]) == (1, 1, 0)
    assert summary["variants"]["AllTraffic"]["correct"] == 1


def test_an_instance_without_capture_files_writes_a_partial_that_merges(quality, tmp_path):
    # Given three instances and two capture files: algo-3 gets no file, only its (empty) input directory
    files, first, second = traffic("binary_classification")
    files = files[:2]
    common = write_common(tmp_path, "binary_classification", first, second)
    write_files(tmp_path / "capture", files)
    run(quality, *common, "--capture-dir", str(tmp_path / "capture"), "--output-dir", str(tmp_path / "one"))
    # When the three partial stages and the merge run
    merged = run_sharded(quality, tmp_path, common, deal(files, 3))
    # Then algo-3's partial counts nothing, and the merge equals the unsharded run
    empty = json.loads((tmp_path / "partial-out" / "partials" / "algo-3.json").read_text())
    assert (empty["captured_records"], empty["predictions_with_id"], empty["rows"], empty["files"]) == (0, {}, [], [])
    assert reports(merged) == reports(tmp_path / "one")


def test_a_merge_without_partials_fails_and_says_where_it_looked(quality, tmp_path):
    common = write_common(tmp_path, "regression", [], [])
    (tmp_path / "partials").mkdir()

    code = quality.main([*common, "--stage", "merge", "--partials-dir", str(tmp_path / "partials"),
                         "--output-dir", str(tmp_path / "out")])  # fmt: skip

    assert code == 1
    message = (tmp_path / "message").read_text()
    assert str(tmp_path / "partials") in message and "--stage partial" in message
    assert not (tmp_path / "out").exists()


def test_a_partial_without_sagemakers_resource_config_fails_rather_than_guess_its_host(quality, tmp_path):
    files, first, second = traffic("regression")
    common = write_common(tmp_path, "regression", first, second)
    write_files(tmp_path / "capture", files)
    missing = tmp_path / "no-such" / "resourceconfig.json"

    code = quality.main([*common, "--stage", "partial", "--capture-dir", str(tmp_path / "capture"),
                         "--output-dir", str(tmp_path / "out"), "--resource-config", str(missing)])  # fmt: skip

    assert code == 1
    assert str(missing) in (tmp_path / "message").read_text()
    assert not (tmp_path / "out").exists()


def test_a_merge_missing_an_instances_partial_fails(quality, tmp_path):
    # Given three instances' partial stages, of which algo-2's output is lost
    files, first, second = traffic("binary_classification")
    common = write_common(tmp_path, "binary_classification", first, second)
    run_sharded(quality, tmp_path, common, deal(files, 3))
    (tmp_path / "partial-out" / "partials" / "algo-2.json").unlink()

    code = quality.main([*common, "--stage", "merge", "--partials-dir", str(tmp_path / "partial-out" / "partials"),
                         "--output-dir", str(tmp_path / "again")])  # fmt: skip

    assert code == 1
    assert "no partial of algo-2" in (tmp_path / "message").read_text()
    assert not (tmp_path / "again").exists()


def test_a_capture_file_read_by_two_instances_fails_the_merge(quality, tmp_path):
    # Given a capture input that was FullyReplicated by mistake: both instances read every file
    files, first, second = traffic("regression")
    common = write_common(tmp_path, "regression", first, second)

    for host in ("algo-1", "algo-2"):
        write_files(tmp_path / "shards" / host, files)
        run(quality, *common, "--stage", "partial", "--capture-dir", str(tmp_path / "shards" / host),
            "--output-dir", str(tmp_path / "partial-out"),
            "--resource-config", str(resource_config(tmp_path, host, ["algo-1", "algo-2"])))  # fmt: skip

    code = quality.main([*common, "--stage", "merge", "--partials-dir", str(tmp_path / "partial-out" / "partials"),
                         "--output-dir", str(tmp_path / "merged")])  # fmt: skip

    assert code == 1
    assert "ShardedByS3Key" in (tmp_path / "message").read_text()

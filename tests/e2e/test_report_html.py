"""Run reports opened in a real browser (headless Chromium), as a person opens them: the plots are drawn, with
the series they should have, and the page loads nothing from anywhere (it must open offline).

Chromium is Debian's package; tests/e2e/chromium.sh installs it when it is missing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from driftline.run_report.page import render
from driftline_local import cli
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption
from driftline_local.sample_data import generate_bank_marketing

from tests.e2e.browser import MEASURE, Chromium, find_chromium
from tests.run_report_samples import drift_report, rollout_report, training_report

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium():
    binary, why = find_chromium()
    if binary is None:
        pytest.skip(f"Chromium is not installed and tests/e2e/chromium.sh could not install it: {why}")
    browser = Chromium(binary)
    yield browser
    browser.close()


def open_report(chromium: Chromium, html: str, path: Path):
    path.write_text(html, encoding="utf-8")
    visit = chromium.open_page(path, MEASURE)
    assert visit.requests == [path.resolve().as_uri()]  # the page itself, nothing else
    assert visit.failed == [] and visit.console_errors == []
    assert visit.measured["links"] == []
    return visit.measured


def chart(page: dict, title: str) -> dict:
    return next(c for c in page["charts"] if c["title"] == title)


def drawn(found: dict) -> set[str]:
    """The series a reader sees: drawn with a non-empty extent, and named in the chart's legend."""
    return {s["name"] for s in found["series"] if s["drawn"]} & set(found["legend"])


def test_checker_catches_a_page_that_loads_from_elsewhere(chromium, tmp_path):
    # The checks below only mean something if they fail for a page that reaches out.
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://203.0.113.1/x.png"></body></html>')

    visit = chromium.open_page(page, MEASURE)

    assert "http://203.0.113.1/x.png" in visit.requests and visit.measured["links"] == ["http://203.0.113.1/x.png"]


def test_training_report_draws_the_curve_with_interruptions_and_resumes(chromium, tmp_path):
    page = open_report(chromium, render(training_report()), tmp_path / "training.html")

    curve = chart(page, "validation auc per round")
    assert drawn(curve) == {"validation auc"}
    assert curve["markers"] == [
        "interruption:interrupted at 130",
        "interruption:interrupted at 400",
        "resume:resumed at 130",
        "resume:resumed at 400",
    ]
    assert drawn(chart(page, "test-set metrics")) == {"candidate", "trivial baseline", "production"}


def test_rollout_report_draws_traffic_requests_and_errors_with_the_deciding_alarm(chromium, tmp_path):
    page = open_report(chromium, render(rollout_report()), tmp_path / "rollout.html")

    share = chart(page, "traffic share per variant")
    assert drawn(share) == {"churn-20261201T1200 (candidate)", "churn-20261130T0900 (production)"}
    assert "alarm:roll back" in share["markers"]
    assert drawn(chart(page, "requests per variant")) == {
        "churn-20261130T0900 requests",
        "churn-20261201T1200 requests",
    }
    assert drawn(chart(page, "errors per variant")) == {"churn-20261201T1200 5XX"}


def test_drift_report_draws_features_against_the_threshold_and_both_distributions(chromium, tmp_path):
    page = open_report(chromium, render(drift_report()), tmp_path / "drift.html")

    assert drawn(chart(page, "drift per feature vs threshold")) == {"age", "job", "balance", "threshold"}
    for feature in ("age", "job"):
        assert drawn(chart(page, f"{feature}: baseline vs window")) == {"baseline", "window"}
    assert page["unavailable"] == ["not available: the run started no rollout (status REJECTED)"]


ROUND = re.compile(r"\bround=(\d+) ")
MODEL = "reported"
CONFIG = f"""name: {MODEL}
problem_type: binary_classification
target: y
drop_columns: [duration]
{FAST_TIMINGS}training:
  checkpoint_interval: 10
  max_spot_resumes: 2
  hyperparameters:
    num_round: 400
"""


def test_a_real_runs_report_fetched_with_the_cli_shows_its_interruption_evaluation_and_rollout(
    cloud, chromium, tmp_path, monkeypatch, capsys
):
    # Given a run on the local cloud whose first training job loses its spot capacity at round 100
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    plan = plan_training_interruption(PlannedInterruption("-train-1", ROUND, at_least=100, notice_seconds=2.0))
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(5000, seed=21)])
    result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None, timeout=600)
    assert plan.fired.is_set() and result.status == "SUCCEEDED", result.error

    # When on-call fetches its report with the CLI and opens it
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    output = tmp_path / "report.html"
    code = cli.main(
        ["report", result.run_id, "-o", str(output), "--endpoint-url", cloud.endpoint_url, "--region", clients.region]
    )
    assert code == 0, capsys.readouterr().err
    assert "fetched from" in capsys.readouterr().err  # the run stored its own report (its roles may write it)
    page = open_report(chromium, output.read_text(encoding="utf-8"), output)

    # Then the curve shows where training was interrupted and where the successor resumed
    curve = chart(page, next(c["title"] for c in page["charts"] if c["title"].endswith("per round")))
    assert len(drawn(curve)) == 1
    interrupted = [m for m in curve["markers"] if m.startswith("interruption:")]
    resumed = [m for m in curve["markers"] if m.startswith("resume:")]
    assert len(interrupted) == 1 and len(resumed) == 1
    assert int(resumed[0].rsplit(" ", 1)[1]) >= 100  # resumed from a checkpoint at or after the reclaim point
    # and the candidate against the trivial baseline (the first model: no production to compare with)
    assert {"candidate", "trivial baseline"} <= drawn(chart(page, "test-set metrics"))
    # and the rollout (a first deployment) put all traffic on the candidate
    assert any(s.endswith("(candidate)") for s in drawn(chart(page, "traffic share per variant")))
    assert any(u.startswith("not available: this run was started by 'upload'") for u in page["unavailable"])
    # DRIFTLINE_REPORT_SCREENSHOT=docs/img/run-report.png keeps the picture of this real report (for the README)
    picture = Path(os.environ.get("DRIFTLINE_REPORT_SCREENSHOT") or tmp_path / "report.png")
    chromium.screenshot(output, picture)
    assert picture.stat().st_size > 10_000


def run_cli(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_of_an_unknown_run_id_is_refused_with_how_to_find_one(cloud, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "report",
        "nosuch-upload-20260101T000000",
        "--endpoint-url",
        cloud.endpoint_url,
        "--region",
        "us-east-1",
    )

    assert code == 1 and "unknown run id 'nosuch-upload-20260101T000000'" in err and "driftline runs MODEL" in err


def test_report_into_a_missing_directory_is_refused_before_anything_is_written(cloud, monkeypatch, capsys, tmp_path):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    run = "reported-upload-20260101T000000"
    clients("dynamodb").put_item(
        TableName=stack.state_table,
        Item={
            "pk": {"S": f"MODEL#{MODEL}"},
            "sk": {"S": f"RUN#{run}"},
            "run_id": {"S": run},
            "status": {"S": "FAILED"},
            "failed_step": {"S": "Preprocess the data"},
        },
    )

    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "report",
        run,
        "-o",
        str(tmp_path / "no" / "report.html"),
        "--endpoint-url",
        cloud.endpoint_url,
        "--region",
        "us-east-1",
    )

    assert code == 1 and f"no directory {tmp_path / 'no'}" in err


def test_report_of_a_run_that_failed_early_is_built_and_says_why_each_part_is_missing(
    cloud, chromium, monkeypatch, capsys, tmp_path
):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    run = "reported-upload-20260101T000100"
    clients("dynamodb").put_item(
        TableName=stack.state_table,
        Item={
            "pk": {"S": f"MODEL#{MODEL}"},
            "sk": {"S": f"RUN#{run}"},
            "run_id": {"S": run},
            "status": {"S": "FAILED"},
            "trigger": {"S": "upload"},
            "failed_step": {"S": "Preprocess the data"},
        },
    )
    output = tmp_path / "report.html"

    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "report",
        run,
        "-o",
        str(output),
        "--json",
        "--endpoint-url",
        cloud.endpoint_url,
        "--region",
        "us-east-1",
    )

    assert code == 0, err
    assert json.loads(out)["source"] == "built"
    page = open_report(chromium, output.read_text(encoding="utf-8"), output)
    assert page["charts"] == []
    assert page["unavailable"] == [
        "not available: the run has no finished training job (status FAILED, failed step Preprocess the data)",
        "not available: the run wrote no evaluation (status FAILED, failed step Preprocess the data)",
        "not available: the run started no rollout (status FAILED)",
        "not available: this run was started by 'upload', not by a drift alarm",
    ]

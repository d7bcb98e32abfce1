"""`driftline run RUN_ID` shows the pages sent about the run: when, what kind, the subject on-call got."""

from driftline_local.ops import runs

RUN = {
    "run_id": "m-upload-20261201T010000",
    "pages": [
        {
            "subject": "[Driftline] m: run failed at 'Train the model'",
            "kind": "run-failed",
            "severity": "page",
            "action": "trigger",
            "at": "2026-12-01T01:20:07+00:00",
            "message_id": "b",
        },
        {
            "subject": "[Driftline] m: training falls back to on-demand after 3 spot capacity losses",
            "kind": "spot-fallback",
            "severity": "warning",
            "action": "trigger",
            "at": "2026-12-01T01:05:00+00:00",
            "message_id": "a",
        },
    ],
}


def _document(pages):
    return {
        "model": "m",
        "run_id": RUN["run_id"],
        "trigger": "upload",
        "status": "FAILED",
        "started_at": "2026-12-01T01:00:00+00:00",
        "seconds": None,
        "failed_step": None,
        "error": None,
        "cause": None,
        "executions": {},
        "training_jobs": [],
        "spot": None,
        "evaluation": None,
        "gate": None,
        "model_package_arn": None,
        "endpoint_name": None,
        "artifacts": "s3://a/m/runs/x/",
        "pages": pages,
    }


def test_the_runs_pages_are_listed_oldest_first_for_scripts():
    pages = runs.sent_pages(RUN)

    assert [p["kind"] for p in pages] == ["spot-fallback", "run-failed"]
    assert pages[0]["subject"].startswith("[Driftline] m: training falls back")


def test_the_run_command_shows_each_page_with_its_time_kind_and_subject(capsys):
    runs.render_run(_document(runs.sent_pages(RUN)))

    lines = capsys.readouterr().out.splitlines()
    fallback = next(line for line in lines if "spot-fallback" in line)
    failed = next(line for line in lines if "run-failed" in line)
    assert "2026-12-01 01:05:00Z" in fallback and "training falls back to on-demand" in fallback
    assert "2026-12-01 01:20:07Z" in failed and "run failed at 'Train the model'" in failed
    assert lines.index(fallback) < lines.index(failed)


def test_a_run_without_pages_says_none_were_recorded(capsys):
    runs.render_run(_document([]))

    assert "pages sent: none recorded" in capsys.readouterr().out

"""Pages reach on-call whatever the model, variant or step is called: SNS refuses subjects that are
not one line of printable ASCII under 100 characters, and a refused rollback page fails the rollback."""

from __future__ import annotations

import pytest
from driftline_local import sns_subject

from .conftest import invoke

MODEL = "a-model-name-of-thirty-two-chars"  # the longest name a config may have
RUN = f"{MODEL}-upload-20261128T060000"
STEP = "Put the candidate beside the production model"


@pytest.fixture
def strict_sns():
    """moto's SNS with the local cloud's Subject rules (AWS's)."""
    sns_subject.install()
    yield
    sns_subject.uninstall()


def test_a_rollback_with_long_names_pages_on_call_and_finishes(stack, strict_sns):
    # Given a rollout of a model with the longest allowed name that failed at a long-named step
    request = {
        "model": MODEL,
        "run_id": RUN,
        "execution": RUN,
        "plan": None,
        "failed_step": STEP,
        "error": {"Error": "States.TaskFailed", "Cause": "boom"},
    }

    # When the rollback runs
    result = invoke("roll_back", request)

    # Then it finishes (the execution would not end RollbackFailed) and on-call got the page
    assert result["done"] is True
    [page] = stack.pages()
    subject = page["Subject"]
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject
    assert subject.startswith(f"[Driftline] {MODEL}: candidate ") and "rolled back" in subject
    assert page["Message"].startswith(f"Title: {MODEL}: candidate {RUN} rolled back ({STEP})")
    attributes = {n: v["Value"] for n, v in page["MessageAttributes"].items()}
    assert (attributes["kind"], attributes["incident"]) == ("rollback", f"rollback/{RUN}")
    report = f"s3://{stack.artifact_bucket}/{MODEL}/runs/{RUN}/report.html"
    assert f"Report: {report} (fetch: driftline report {RUN} -o report.html)" in page["Message"]

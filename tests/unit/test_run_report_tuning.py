"""The run report's tuning section: every trial with its tuned values, objective and status; the best marked."""

from __future__ import annotations

from driftline.run_report.collect import tuning_part
from driftline.run_report.model import RunReport, Unavailable
from driftline.run_report.page import render


def test_a_tuned_run_lists_every_trial_with_its_values_objective_and_status_and_marks_the_best():
    run = {
        "tuning": {
            "job": "churn-upload-20261201T050000-hpo",
            "status": "Completed",
            "strategy": "Bayesian",
            "objective": "validation:auc",
            "objective_type": "Maximize",
            "best_training_job": "churn-hpo-002-bbbb",
            "trials": [
                {"job_name": "churn-hpo-001-aaaa", "status": "Completed", "params": {"eta": "0.1"}, "objective": 0.81},
                {"job_name": "churn-hpo-002-bbbb", "status": "Completed", "params": {"eta": "0.3"}, "objective": 0.86},
                {
                    "job_name": "churn-hpo-003-cccc",
                    "status": "Failed",
                    "params": {"eta": "0.9"},
                    "objective": None,
                    "failure_reason": "AlgorithmError: boom",
                },
            ],
        }
    }
    part = tuning_part(run)
    report = RunReport(
        model="churn",
        run_id="churn-upload-20261201T050000",
        generated_at="now",
        training=Unavailable(why="-"),
        evaluation=Unavailable(why="-"),
        rollout=Unavailable(why="-"),
        drift=Unavailable(why="-"),
        tuning=part,
    )

    html = render(report)

    assert [t.best for t in part.trials] == [False, True, False]
    assert 'id="tuning"' in html and "best: churn-hpo-002-bbbb" in html
    assert "0.86" in html and "AlgorithmError: boom" in html and "validation:auc (maximize)" in html


def test_a_run_that_did_not_tune_has_no_tuning_section():
    report = RunReport(
        model="churn",
        run_id="r",
        generated_at="now",
        training=Unavailable(why="-"),
        evaluation=Unavailable(why="-"),
        rollout=Unavailable(why="-"),
        drift=Unavailable(why="-"),
    )

    assert 'id="tuning"' not in render(report)

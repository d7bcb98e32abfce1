"""The run report shows a shadow test's and an A/B test's verdict as the rollout recorded them on the run."""

from __future__ import annotations

from decimal import Decimal

from driftline.run_report.model import RunReport, Unavailable
from driftline.run_report.page import render


def _report(**tests) -> str:
    missing = Unavailable(why="-")
    return render(
        RunReport(
            model="churn",
            run_id="churn-manual-20261201T100000",
            generated_at="now",
            training=missing,
            evaluation=missing,
            rollout=missing,
            drift=missing,
            **tests,
        )
    )


def test_a_failed_shadow_test_shows_what_the_shadow_did_and_why_it_failed():
    html = _report(
        shadow_test={
            "variant": "manual-20261201T100000",
            "outcome": "failed",
            "seconds": 8,
            "requests": Decimal("76"),
            "errors": Decimal("76"),
            "compared": Decimal("0"),
            "reasons": ["76 of 76 mirrored requests failed (100.0%; at most 1.0% allowed)"],
        }
    )

    assert 'id="shadow-test"' in html and "<td>failed</td>" in html
    assert "<li>76 of 76 mirrored requests failed (100.0%; at most 1.0% allowed)</li>" in html
    assert html.index('id="shadow-test"') < html.index('id="drift"')


def test_an_ab_test_shows_its_decision_and_each_metrics_p_value():
    html = _report(
        ab_test={
            "decision": "keep",
            "reason": "the candidate's error rate is significantly higher",
            "candidate_percent": 50,
            "tests": {
                "error_rate": {
                    "tested": True,
                    "production": 0.0,
                    "candidate": Decimal("0.2"),
                    "statistic": Decimal("-5.123456"),
                    "p_value": Decimal("0.00000030"),
                },
                "latency": {"tested": False, "why": "fewer than 2 minutes of latency averages"},
                "quality": {"tested": True, "measure": "accuracy", "production": 1.0, "candidate": 0.304},
            },
        }
    )

    assert 'id="ab-test"' in html and "<td>keep</td>" in html
    assert "<td>error_rate</td><td>0</td><td>0.2</td><td>-5.123</td><td>3e-07</td>" in html
    assert "fewer than 2 minutes of latency averages" in html
    assert "<td>quality (accuracy)</td><td>1</td><td>0.304</td>" in html


def test_a_plain_canary_run_has_neither_section():
    html = _report()

    assert 'id="shadow-test"' not in html and 'id="ab-test"' not in html

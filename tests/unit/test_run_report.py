"""report.html: what each part of a run's report shows, built from traces shaped as the run leaves them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from driftline.run_report.collect import (
    PartMissing,
    categorical_distribution,
    evaluation_from,
    numeric_distribution,
    rollout_from_history,
    training_from_history,
)
from driftline.run_report.model import RunReport, Unavailable
from driftline.run_report.page import render
from driftline.run_report.svg import Marker, Series, line_chart, nice_ticks

from tests.run_report_samples import (
    EVALUATION,
    GATE,
    JOBS,
    drift_report,
    interrupted_history,
    rolled_back_history,
    rollout_report,
    training_report,
)


class Page(HTMLParser):
    """What a reader of the page finds: plotted series, legend names, unavailable notes, every src/href."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.paths: list[dict[str, str]] = []
        self.legend: list[str] = []
        self.links: list[str] = []
        self.unavailable: list[str] = []
        self._in_unavailable = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "path" and "series" in found.get("class", "").split():
            self.paths.append(found)
        if "legend-entry" in found.get("class", ""):
            self.legend.append(found["data-series"])
        self.links += [v for k, v in found.items() if k in {"src", "href", "xlink:href"}]
        self._in_unavailable = "unavailable" in found.get("class", "")

    def handle_data(self, data: str) -> None:
        if self._in_unavailable:
            self.unavailable.append(data)
            self._in_unavailable = False


def plotted(page: Page) -> dict[str, str]:
    return {p["data-series"]: p["d"] for p in page.paths}


def test_training_part_marks_each_interruption_and_each_resume_at_its_round():
    part = training_from_history(interrupted_history(), "auc", JOBS)

    assert [(m.kind, m.x) for m in part.markers] == [
        ("interruption", 130),
        ("interruption", 400),
        ("resume", 130),
        ("resume", 400),
    ]
    assert part.series[0].name == "validation auc" and len(part.series[0].points) == 800


def test_training_report_draws_the_metric_line_and_names_it_in_the_legend():
    page = Page(render(training_report()))

    assert plotted(page)["validation auc"].count("L") == 799
    assert "validation auc" in page.legend
    assert {"candidate", "trivial baseline", "production"} <= set(page.legend)


def test_training_without_a_validation_set_is_missing_with_the_reason():
    with pytest.raises(PartMissing, match="no validation set"):
        training_from_history({"metrics": {}, "attempts": []}, "auc", [])


def test_evaluation_lines_up_candidate_baseline_and_production_per_metric():
    part = evaluation_from(EVALUATION, GATE, "auc")

    assert part.metrics["auc"] == {"candidate": 0.91, "trivial baseline": 0.5, "production": 0.89}
    assert "beats the trivial baseline" in part.gate_summary and part.production_note is None


def test_first_model_evaluation_says_why_production_has_no_numbers():
    part = evaluation_from(EVALUATION | {"production_metrics": None}, None, "auc")

    assert part.metrics["auc"]["production"] is None and "first model" in part.production_note


def test_rolled_back_rollout_shows_traffic_steps_and_the_alarm_that_decided():
    part = rollout_from_history(rolled_back_history(), {"status": "ROLLED_BACK"})

    candidate = next(s for s in part.share if "(candidate)" in s.name)
    assert [v for _, v in candidate.points] == [0.0, 10.0, 50.0, 0.0, 0.0]
    production = next(s for s in part.share if "(production)" in s.name)
    assert [v for _, v in production.points] == [100.0, 90.0, 50.0, 100.0, 100.0]
    assert part.outcome == "rolled back"
    assert part.decided_by.startswith("alarm driftline-churn-candidate-5xx at 50% of traffic")
    assert "Threshold Crossed" in part.alarm_reason


def test_rollout_report_draws_share_requests_and_errors_per_variant():
    page = Page(render(rollout_report()))

    series = plotted(page)
    assert {
        "churn-20261201T1200 (candidate)",
        "churn-20261130T0900 (production)",
        "churn-20261201T1200 requests",
        "churn-20261201T1200 5XX",
    } <= set(series)
    assert all(d.startswith("M") for d in series.values())


def test_drift_report_draws_each_feature_against_the_threshold_and_the_drifted_distributions():
    report = drift_report()
    page = Page(render(report))

    assert [d["feature"] for d in report.drift.drifted] == ["age", "job"]
    assert {"age", "job", "balance", "threshold"} <= set(page.legend)
    assert {"baseline", "window"} <= set(page.legend)
    assert page.unavailable == [  # the rollout part says why it is empty
        "not available: the run started no rollout (status REJECTED)"
    ]


def test_numeric_distribution_puts_both_sides_on_the_same_bins():
    labels, baseline, window = numeric_distribution(
        [{"lower_bound": 0, "upper_bound": 10, "count": 30}, {"lower_bound": 90, "upper_bound": 100, "count": 10}],
        ["1", "2", "3", "95"],
    )

    assert len(labels) == len(baseline) == len(window) == 10
    assert window[0] == pytest.approx(0.75) and window[-1] == pytest.approx(0.25)
    assert baseline[0] == pytest.approx(0.75) and sum(baseline) == pytest.approx(1.0)


def test_categorical_distribution_keeps_categories_the_window_never_saw():
    labels, baseline, window = categorical_distribution([{"value": "b", "count": 4}], ["a", "a", "b"])

    assert labels == ["b", "a"] or labels == ["a", "b"]
    assert dict(zip(labels, window, strict=True)) == {"a": 0.0, "b": 1.0}
    assert dict(zip(labels, baseline, strict=True)) == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_every_missing_part_says_not_available_and_why_instead_of_an_empty_plot():
    report = RunReport(
        model="m",
        run_id="m-upload-20261201T120000",
        generated_at="now",
        training=Unavailable(why="the run has no finished training job"),
        evaluation=Unavailable(why="the run wrote no evaluation"),
        rollout=Unavailable(why="the run started no rollout"),
        drift=Unavailable(why="this run was started by 'upload'"),
    )
    page = Page(render(report))

    assert page.paths == []
    assert len(page.unavailable) == 4 and all(u.startswith("not available: ") for u in page.unavailable)


@pytest.mark.parametrize("build", [training_report, rollout_report, drift_report])
def test_report_pages_load_nothing_from_elsewhere(build):
    html = render(build())

    assert Page(html).links == []
    assert not re.search(r"<script|<link|<img|@import|url\(", html)


def test_text_from_the_run_is_escaped():
    report = training_report()
    report.facts = {"Error": "<script>alert(1)</script>"}

    assert "<script>" not in render(report) and "&lt;script&gt;" in render(report)


def test_chart_with_nothing_to_draw_is_refused():
    with pytest.raises(ValueError, match="no points"):
        line_chart([Series(name="empty", points=[(1, None)])], title="t", x_label="x", y_label="y")


def test_markers_are_drawn_inside_the_chart_with_their_labels():
    chart = line_chart(
        [Series(name="s", points=[(0, 1), (10, 2)])],
        title="t",
        x_label="x",
        y_label="y",
        markers=[Marker(x=5, label="interrupted at 5", kind="interruption")],
    )

    assert 'data-kind="interruption"' in chart and "interrupted at 5" in chart


def test_ticks_cover_the_range_with_round_numbers():
    assert nice_ticks(0.13, 0.91) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_rollout_reported_from_its_own_last_step_takes_the_outcome_the_run_recorded():
    # record_deployment refreshes the report before CanaryRollout's execution has ended
    events = [e for e in rolled_back_history() if e["type"] != "ExecutionFailed"][:4]

    assert rollout_from_history(events, {"status": "DEPLOYED"}).outcome == "promoted"
    assert rollout_from_history(events, {"status": "RUNNING"}).outcome == "running"

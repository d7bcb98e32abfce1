"""`driftline status` and `runs` read runs as the state table holds them."""

from driftline_local.ops.status import sorted_runs


def test_runs_sort_newest_first_and_a_run_written_only_by_an_update_keeps_its_id_from_the_key():
    items = {
        "CONFIG": {"config": "{}"},
        "RUN#m-upload-20261201T010000": {"run_id": "m-upload-20261201T010000", "started_at": "2026-12-01T01:00:00"},
        # CanaryRollout's rollback of a rollout started by hand: UpdateItem on a key no run created
        "RUN#m-manual-20261128T090000": {"status": "ROLLED_BACK", "failed_step": "10% of traffic on the candidate"},
        "RUN#m-drift-20261201T020000": {"run_id": "m-drift-20261201T020000", "started_at": "2026-12-01T02:00:00"},
    }

    runs = sorted_runs(items)

    assert [r["run_id"] for r in runs] == [
        "m-drift-20261201T020000",
        "m-upload-20261201T010000",
        "m-manual-20261128T090000",
    ]
    assert runs[-1]["status"] == "ROLLED_BACK"

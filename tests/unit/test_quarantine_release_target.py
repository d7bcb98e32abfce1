"""Where `driftline quarantine release` puts a file back: where it was dropped (a batch file is not training data)."""

from types import SimpleNamespace

import pytest
from driftline_local.ops.quarantine import _target
from driftline_local.ops.session import OpsError

OPS = SimpleNamespace(stack=SimpleNamespace(data_bucket="data"))
KEY = "quarantine/churn/20261201T000000-ab12/rows.csv"


@pytest.mark.parametrize("original", ["incoming/churn/rows.csv", "batch/churn/rows.csv", "labels/churn/rows.csv"])
def test_a_released_file_goes_back_to_the_folder_it_was_dropped_in(original):
    assert _target(OPS, KEY, {"original_key": original}, None) == original


def test_a_file_without_a_known_origin_goes_to_incoming():
    assert _target(OPS, KEY, {}, None) == "incoming/churn/rows.csv"


@pytest.mark.parametrize("to", ["batch/churn/fixed.csv", "s3://data/labels/churn/fixed.csv"])
def test_to_may_name_a_batch_or_labels_key(to):
    assert _target(OPS, KEY, {}, to) == to.removeprefix("s3://data/")


def test_to_outside_the_watched_folders_is_refused():
    with pytest.raises(OpsError, match="incoming/, batch/ or labels/"):
        _target(OPS, KEY, {}, "predictions/churn/x.csv")

"""One local cloud with the stack deployed, shared by every e2e test in this process."""

import pytest
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    # Alarm periods and schedules run 30x faster (a 60 s alarm period is judged every 2 s); jobs do not.
    with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud"), time_scale=30) as running:
        deploy_local_stack(running, REPO_ROOT / "template.yaml")
        yield running

"""One local cloud with the stack deployed, shared by every e2e test in this process."""

import pytest
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud")) as running:
        deploy_local_stack(running, REPO_ROOT / "template.yaml")
        yield running

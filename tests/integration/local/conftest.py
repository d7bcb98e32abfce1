"""The local cloud, started once for this folder, with the small SAM app deployed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from driftline_local.cloud import LocalCloud

SAM_APP = Path(__file__).parent / "sam_app" / "template.yaml"
TIME_SCALE = 60.0  # a rate(1 minute) schedule fires every second


@pytest.fixture(scope="package")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud"), time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture(scope="package")
def stack(cloud: LocalCloud) -> Any:
    return cloud.deploy(SAM_APP, "localtest", {"OnCallEmail": "pager@example.com"})


@pytest.fixture(scope="package")
def aws(cloud: LocalCloud) -> Callable[[str], Any]:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=cloud.endpoint_url,
            region_name=cloud.ctx.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client

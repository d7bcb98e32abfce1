"""The server's per-request work: moto's dispatcher finds the backend for a host once, not on every request."""

from __future__ import annotations

import os
import threading
from typing import Any

import moto
import pytest
from driftline_local.control import moto_dispatcher
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

HOSTS = [
    None,
    "moto_api",
    "dynamodb",
    "s3.us-east-1.amazonaws.com",
    "states.us-east-1.amazonaws.com",
    "api.sagemaker.us-east-1.amazonaws.com",
    "lambda.us-east-1.amazonaws.com",
    "sns.us-east-1.amazonaws.com",
]


def test_a_host_routed_once_is_routed_again_without_listing_motos_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a dispatcher that has routed each host once
    dispatcher = moto_dispatcher()
    first = {host: dispatcher.get_backend_for_host(host) for host in HOSTS}
    package = os.path.dirname(moto.__file__)
    listings: list[str] = []
    listdir = os.listdir

    def counting_listdir(path: Any = ".") -> list[str]:
        if os.fspath(path) == package:
            listings.append(package)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counting_listdir)
    # When it routes them again
    again = {host: dispatcher.get_backend_for_host(host) for host in HOSTS}
    # Then the answers are moto's own, and moto's package was not listed to find them
    monkeypatch.undo()
    moto_own = DomainDispatcherApplication(create_backend_app)
    assert again == first == {host: moto_own.get_backend_for_host(host) for host in HOSTS}
    assert first["s3.us-east-1.amazonaws.com"] == "s3" and first["dynamodb"] == "dynamodb"
    assert listings == []


def test_sagemakers_request_checks_have_their_model_before_the_first_request(cloud, monkeypatch) -> None:
    from botocore.loaders import Loader
    from driftline_local.sagemaker import request_checks

    from .waiting import eventually

    # Given a running cloud, once its start-up work is done
    eventually(lambda: not any(t.name == "sagemaker-shapes" for t in threading.enumerate()))
    loaded: list[str] = []
    load = Loader.load_service_model

    def recording_load(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        loaded.append(service_name)
        return load(self, service_name, *args, **kwargs)

    monkeypatch.setattr(Loader, "load_service_model", recording_load)
    # When a run's first CreateEndpointConfig is checked
    problem = request_checks.refusal("CreateEndpointConfig", {"EndpointConfigName": "a" * 64, "ProductionVariants": []})
    # Then it is checked against SageMaker's model, which was not read for it
    assert problem and "endpointConfigName" in problem
    assert loaded == []

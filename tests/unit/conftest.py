"""Unit tests are pure: no sockets (pytest-socket), no AWS."""

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled):
    yield

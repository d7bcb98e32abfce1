"""One parsed copy of each botocore model in the local cloud's process, whichever session loads it.

botocore parses a service's JSON model once per `Loader` (`@instance_cache`), and every botocore session
has its own loader. The cloud's process makes many sessions: moto's backends (one for their region lists),
the default boto3 session (stack deployment, the Step Functions interpreter's tasks), one per role the
tasks act as (IAM is enforced), the request checker (`api_shapes`). Each of them parsed the SageMaker model
(the largest: tens of MiB of dicts and strings), the Step Functions model and others again, and kept them
for the life of the process: 4 copies of sagemaker's and stepfunctions' models after a deployment.

`install()` makes every loader of the same kind (class, search paths and extras types, which decide what
a load returns) return the same parsed object for the same model, as one loader already does for all the
clients of its session. botocore never writes to a loaded model (its clients of one session share them),
so sharing them between sessions changes nothing a client sees.
"""

from __future__ import annotations

import os
import threading
from typing import Any

EXTS = (".json", ".json.gz")  # botocore's JSONFileLoader reads either

_shared: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()
_installed = False


def _loader_kind(loader: Any, name: str) -> tuple[Any, ...]:
    """What decides what `loader` returns for `name` (a service, or a data file's path): its class and extras
    types (both decide which extras are merged) and the search paths that hold `name` (boto3's sessions add
    boto3's own data directory, which holds no service model: they still read the same files)."""
    holders = tuple(
        path
        for path in loader.search_paths
        if os.path.isdir(os.path.join(path, name))
        or any(os.path.isfile(os.path.join(path, name + ext)) for ext in EXTS)
    )
    return (type(loader), tuple(loader.extras_types), holders)


def install() -> None:
    """Share parsed models and data files between every botocore `Loader` in this process (idempotent)."""
    global _installed
    from botocore import loaders

    with _lock:
        if _installed:
            return
        load_service_model = loaders.Loader.load_service_model
        load_data_with_path = loaders.Loader.load_data_with_path

        def shared_service_model(self: Any, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            key = (*_loader_kind(self, service_name), "service", service_name, type_name, api_version)
            if key not in _shared:
                _shared.setdefault(key, load_service_model(self, service_name, type_name, api_version))
            return _shared[key]

        def shared_data_with_path(self: Any, name: str) -> Any:
            key = (*_loader_kind(self, name), "data", name)
            if key not in _shared:
                _shared.setdefault(key, load_data_with_path(self, name))
            return _shared[key]

        loaders.Loader.load_service_model = shared_service_model  # type: ignore[method-assign]
        loaders.Loader.load_data_with_path = shared_data_with_path  # type: ignore[method-assign]
        _installed = True


def shared_models() -> int:
    """How many parsed models and data files are shared (for tests)."""
    return len(_shared)

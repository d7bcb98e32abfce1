"""A model server's process, started as the XGBoost image's serving stack starts: its own imports first.

The container's gunicorn workers load `sagemaker_xgboost_container.serving` (the app `serving:main`) before
anything else; serving.py imports `sagemaker_xgboost_container.encoder`, whose module body runs
`import numpy as np` and `import xgboost as xgb`; the image pins scikit-learn 1.8.0, so that import loads
scikit-learn too (xgboost/compat.py imports sklearn.base whenever it is installed). Sources:
aws/sagemaker-xgboost-container `src/sagemaker_xgboost_container/serving.py`, `encoder.py`, `requirements.txt`
(commit cb8df91). The inference script then finds xgboost (and scikit-learn) already imported, as it does in
the container. Requests never pay that import, here or there.

Two ways to start (by `model_server.py`, with the image environment's interpreter; stdlib only):

- ``python _serving_stack.py <path of _inference_worker.py> <code_dir> <model_dir> <program>``: import the
  serving stack, then run the worker: one variant's server in a fresh interpreter.
- ``python _serving_stack.py --zygote <socket-fd>``: import the serving stack once, then fork one variant's
  server per request (`driftline_local.forking` describes the protocol). Each child is its own process in
  its own session, with the variant's environment, working directory, arguments and pipes, and runs the
  worker exactly as the fresh interpreter would; the imported stack is shared copy-on-write. The local
  cloud models no instance launch or image pull (minutes on AWS, not simulated for jobs either); with the
  zygote, CreateEndpoint here costs downloading the model, loading it and passing the health check.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import runpy
import socket
import sys
from typing import Any

# What the serving stack imports before the user's module; each only where the image's environment has it
# (the XGBoost image has both; an image without xgboost serves with a different stack, not modelled here).
SERVING_STACK_IMPORTS = ("numpy", "xgboost")


def import_serving_stack() -> list[str]:
    """Import what the image's serving stack imports at start; the names imported."""
    imported = []
    for name in SERVING_STACK_IMPORTS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            imported.append(name)
    return imported


def run_worker(argv: list[str]) -> None:
    """Run `_inference_worker.py` with its arguments, as the serving stack runs the user's module."""
    worker = argv[0]
    sys.argv = argv
    runpy.run_path(worker, run_name="__main__")


def _become_variant(spec: dict[str, Any], fds: list[int]) -> None:
    """In a freshly forked child: its own session, streams, directory and environment."""
    os.setsid()
    for target, fd in enumerate(fds):  # stdin (requests), stdout (answers), stderr (the endpoint's log)
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(str(spec["cwd"]))
    os.environ.clear()
    os.environ.update(spec["env"])


def _start_variant(spec: dict[str, Any], fds: list[int]) -> None:
    """In a forked child: become the variant's server process and run the worker."""
    _become_variant(spec, fds)
    run_worker(list(spec["argv"]))


def zygote(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    # the fork loop, from `driftline_local/forking.py` (this is the image's interpreter: no driftline_local);
    # compiled before the stack's imports, which reuse the heap that compiling it freed
    here = os.path.dirname(os.path.abspath(__file__))
    serve_forks = runpy.run_path(os.path.join(os.path.dirname(here), "forking.py"))["serve_forks"]
    import_serving_stack()
    gc.collect()
    gc.freeze()  # the collector never writes to the imported stack's pages, so they stay shared
    serve_forks(sock, _start_variant)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        import_serving_stack()
        run_worker(sys.argv[1:])

"""The local cloud: moto's server in this process plus the extensions that give it execution.

    with LocalCloud(port=0, workdir=tmp) as cloud:   # port 0: a free port
        cloud.deploy(template_path, parameters={...})
        boto3.client("s3", endpoint_url=cloud.endpoint_url, ...)

Every extension module has ``install(ctx)``; they are installed in order after the server starts.
The server also answers the control API (`control`), through which `driftline local interrupt` and
`driftline local fault` reach a running cloud.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

# moto 5.2.5 keeps an S3 object's body in memory up to MOTO_S3_DEFAULT_KEY_BUFFER_SIZE (5 MiB - 1 KiB by
# default) and spools larger ones to a temporary file. Every upload, split, checkpoint and data-capture
# file is below that, and a versioned bucket keeps every version: the server's memory grew with the data.
# Bodies above this size go to disk instead.
S3_BODY_IN_MEMORY_BYTES = 64 * 1024


# glibc serves an allocation above its mmap threshold with its own mapping, returned to the system when freed;
# but it raises that threshold to the size of each such block freed (up to 32 MiB), after which request bodies,
# S3 objects and responses of a few MiB are carved from the heaps of the server's request threads and stay
# there when freed: the server grew with the data (41k rows: +80 MiB over one run, 22 MiB of it free heap). A
# fixed threshold keeps every block above it in its own mapping, so what the cloud frees it gives back.
MMAP_THRESHOLD_BYTES = 256 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold for this process (True if set; False where the C library is not glibc)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def keep_out_of_collections() -> None:
    """Collect once, then leave everything this process holds out of the cyclic collector's later passes.

    What the cloud holds once its stack is deployed (moto, botocore's models, the parsed state machines,
    the stack's resources) lives as long as the cloud. A full collection walked all of it: 0.2-0.3 s with
    every thread of the server waiting on it, eight times per run, one of them between two states of a
    pipeline. `stop` gives the objects back to the collector.
    """
    gc.collect()
    gc.freeze()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCloud:
    """moto's ThreadedMotoServer on 127.0.0.1 with the local-cloud extensions installed."""

    def __init__(
        self,
        port: int = 4566,
        workdir: Path | str | None = None,
        time_scale: float = 1.0,
        region: str | None = None,
        enforce_iam: bool | None = None,
        lambda_idle_seconds: float | None = None,
        lambda_initialize_ahead: bool = True,
        serving_stacks_ahead: bool = False,
    ) -> None:
        """`lambda_idle_seconds`: cloud seconds an idle Lambda environment lives (default 10 minutes);
        `lambda_initialize_ahead=False`: no environment is started before its function's first invocation;
        `serving_stacks_ahead`: each image's model-serving stack is imported when the cloud starts, not by the
        first endpoint that needs it (`sagemaker.model_server.ServingStacks`)."""
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="driftline-local-")
        port = port or free_port()
        self.ctx = LocalCloudContext(port=port, workdir=Path(workdir).resolve(), time_scale=time_scale)
        if region:
            self.ctx.region = region
        if lambda_idle_seconds is not None:
            self.ctx.lambda_idle_seconds = lambda_idle_seconds
        self.ctx.lambda_initialize_ahead = lambda_initialize_ahead
        self.ctx.serving_stacks_ahead = serving_stacks_ahead
        if enforce_iam is None:  # on, as on AWS; DRIFTLINE_LOCAL_IAM=0 turns it off to tell an IAM refusal apart
            enforce_iam = os.environ.get("DRIFTLINE_LOCAL_IAM", "1") == "1"
        self.enforce_iam = enforce_iam  # callers act with their template roles (`iam`)
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def endpoint_url(self) -> str:
        return self.ctx.endpoint_url

    @property
    def workdir(self) -> Path:
        return self.ctx.workdir

    def start(self) -> LocalCloud:
        # moto.sagemaker's package and its models import each other: imported for the first time by the server's
        # request threads and an extension's install at once, one of them gets the half-initialised module
        # ("cannot import name 'sagemaker_backends'", seen on a clean clone). Import it here, before any thread.
        from driftline_local import botocore_share, moto_data

        return_large_blocks()  # the server's freed request bodies and objects go back to the system

        botocore_share.install()  # one parsed copy of each botocore model, however many sessions load it
        moto_data.install()  # before anything imports moto.ec2: its offerings are read when EC2 asks, not here
        import moto.sagemaker.responses  # noqa: F401
        from moto.core.config import default_user_config

        from driftline_local import control, iam

        self.ctx.workdir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise
        # the Step Functions interpreter's boto clients find the server through MOTO_PORT
        self._set_env("MOTO_PORT", str(self.ctx.port))
        self._set_env("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(S3_BODY_IN_MEMORY_BYTES))  # read at each PutObject
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True  # type: ignore[typeddict-item]
        self._reset_moto()
        self._server = control.moto_server(self.ctx, ip_address="127.0.0.1", port=self.ctx.port)
        self._server.start()
        iam.install(self.ctx, self.enforce_iam)  # before the extensions that make clients for tasks
        for install in self._extensions():
            install(self.ctx)
        if self.ctx.serving_stacks_ahead:
            from driftline_local.sagemaker.model_server import serving_stacks

            serving_stacks.start_ahead(self.ctx)
        log.info("local cloud at %s (workdir %s)", self.endpoint_url, self.workdir)
        return self

    @staticmethod
    def _extensions() -> list[Any]:
        from driftline_local import alarms, eventbridge, lambda_runtime, sagemaker, sns, stack, states

        return [
            stack.install,
            states.install,
            lambda_runtime.install,
            eventbridge.install,
            sns.install,
            sagemaker.install,
            alarms.install,
        ]

    @staticmethod
    def _reset_moto() -> None:
        """A fresh account: earlier clouds in this process leave nothing behind."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def deploy(
        self,
        template_path: Path | str,
        stack_name: str = "driftline",
        parameters: dict[str, str] | None = None,
    ) -> Any:
        from driftline_local import stack

        deployed = stack.deploy(self.ctx, Path(template_path), stack_name, parameters)
        keep_out_of_collections()
        return deployed

    def stop(self) -> None:
        from driftline_local import alarms, eventbridge, iam, lambda_runtime, sns

        self.ctx.stop_event.set()
        alarms.uninstall()
        eventbridge.uninstall()
        sns.uninstall()
        lambda_runtime.uninstall()
        iam.uninstall()
        if self._server is not None:
            self._server.stop()
            self._server = None
        gc.unfreeze()  # what this cloud held can be collected now (`keep_out_of_collections`)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def wait(self) -> None:
        """Serve until `stop()` (or a signal handler setting `ctx.stop_event`)."""
        while not self.ctx.stop_event.wait(0.5):
            pass

    def _set_env(self, key: str, value: str) -> None:
        self._saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_in_thread(cloud: LocalCloud) -> threading.Thread:
    """Start `cloud` and serve it on a daemon thread (handy for notebooks and scripts)."""
    cloud.start()
    thread = threading.Thread(target=cloud.wait, name="local-cloud", daemon=True)
    thread.start()
    return thread

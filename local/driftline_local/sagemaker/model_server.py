"""A production variant's model server: the model and code unpacked into a sandbox, a worker process.

Each variant gets a persistent worker process (`_inference_worker.py`), started with the interpreter of
the model image's environment (`image_envs.python_for_image` on PrimaryContainer.Image), with the model's
`model.tar.gz` extracted to its sandbox's `model/` and the SAGEMAKER_SUBMIT_DIRECTORY tarball to
`model/code/` (where the SageMaker framework containers put it). The worker loads SAGEMAKER_PROGRAM and
answers as the XGBoost container's serving stack does (`_serving_contract.py`); a variant answers one
request at a time. The worker starts behind `_serving_stack.py`, which first imports what the XGBoost
image's serving stack imports (xgboost, and scikit-learn through it), so the inference script finds what it
finds in the container.

That import (about a second of CPU and 185 MiB) is paid once per image interpreter, not per variant: a
serving-stack zygote per image environment imports it and forks each variant's server (`ServingStacks`), on
the first endpoint that needs it, or ahead of traffic when the cloud starts with `serving_stacks_ahead`. A
variant's server is still its own process in its own session with its own environment, sandbox and pipes,
and still loads its model and passes the ping before InService. A model whose container Environment sets
anything but SAGEMAKER_* variables (which the serving stack reads when it loads, not when it imports) gets a
fresh interpreter, as thread or BLAS settings read at import must reach it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import Any

from driftline_local.context import LocalCloudContext
from driftline_local.forking import ForkedProcess, Zygote

from ._aws import LOG, client, fetch_object, split_s3_uri
from .image_envs import ImageEnvMissing, UnknownImage, env_dir, known_images, python_for_image

MODEL_LOAD_TIMEOUT_SECONDS = 120.0
DRAIN_SECONDS = 5.0  # how long retiring a variant waits for the request it is answering
_WORKER = Path(__file__).with_name("_inference_worker.py")
_SERVING_STACK = Path(__file__).with_name("_serving_stack.py")


def worker_command(python: str, code_dir: Path, model_dir: Path, program: str) -> list[str]:
    """The model server's command line: the serving stack's imports, then `_inference_worker.py`."""
    return [python, str(_SERVING_STACK), str(_WORKER), str(code_dir), str(model_dir), program]


def _base_environment() -> dict[str, str]:
    """What every model server's environment starts from (the model's own variables come on top)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "MOTO_", "SAGEMAKER_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServingStacks:
    """One serving-stack zygote per (local cloud, image interpreter), started on first use, closed with the cloud."""

    def __init__(self) -> None:
        self._zygotes: dict[tuple[str, str], Zygote] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, ctx: LocalCloudContext, python: str) -> Zygote | None:
        """The running zygote for `python` (started now if need be); None if it cannot start or the cloud stops."""
        key = (str(ctx.workdir), python)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive:
                return zygote
            if ctx.stop_event.is_set():
                return None
            home = ctx.workdir / "endpoints"
            home.mkdir(parents=True, exist_ok=True)
            try:
                zygote = Zygote(
                    [python, str(_SERVING_STACK), "--zygote"],
                    _base_environment(),
                    home,
                    home / f"serving-stack-{Path(python).parents[1].name}.log",
                )
            except (OSError, RuntimeError):
                LOG.warning("the serving stack of %s did not start; variants start fresh interpreters", python)
                return None
            self._zygotes[key] = zygote
        threading.Thread(target=self._close_with_cloud, args=(ctx, key, zygote), daemon=True).start()
        return zygote

    def _close_with_cloud(self, ctx: LocalCloudContext, key: tuple[str, str], zygote: Zygote) -> None:
        ctx.stop_event.wait()
        with self._lock:
            if self._zygotes.get(key) is zygote:
                del self._zygotes[key]
        zygote.close()

    def start_ahead(self, ctx: LocalCloudContext) -> None:
        """Start the zygote of every built image environment that has a serving stack (xgboost), in the background."""
        for name in known_images():
            python = env_dir(name) / "bin" / "python"
            if python.exists() and any(env_dir(name).glob("lib/python*/site-packages/xgboost/__init__.py")):
                threading.Thread(target=self.get, args=(ctx, str(python)), daemon=True).start()


serving_stacks = ServingStacks()


def _forkable(environment: dict[str, str]) -> bool:
    return all(key.startswith("SAGEMAKER_") for key in environment)


class DeployFailed(Exception):
    """A variant cannot be hosted; the message becomes the endpoint's FailureReason."""


class VariantWorker:
    """One production variant: a model server process and the lock that serialises its requests."""

    def __init__(self, ctx: LocalCloudContext, sandbox: Path, variant: dict[str, Any], model: Any) -> None:
        self.ctx = ctx
        self.sandbox = sandbox
        self.name: str = variant["VariantName"]
        self.model = model
        self.image = (model.primary_container or {}).get("Image", "")
        self.environment: dict[str, str] = dict((model.primary_container or {}).get("Environment") or {})
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.retired = False  # closed by an update or delete: a request that finds it so is routed again

    def start(self) -> None:
        container = self.model.primary_container or {}
        if not container:
            raise DeployFailed(
                f"Model {self.model.model_name} has no PrimaryContainer; "
                "the local cloud hosts one container per variant"
            )
        if self.sandbox.exists():
            shutil.rmtree(self.sandbox)
        model_dir = self.sandbox / "model"
        model_dir.mkdir(parents=True)
        role = getattr(self.model, "execution_role_arn", None)
        try:
            s3 = client(self.ctx, "s3", role)  # SageMaker fetches the model's data with its execution role
        except Exception as exc:
            raise DeployFailed(f"Could not assume the model's execution role {role}: {exc}") from exc
        data_url = container.get("ModelDataUrl")
        if data_url:
            archive = self.sandbox / "model.tar.gz"
            try:
                bucket, key = split_s3_uri(data_url)
                fetch_object(s3, bucket, key, archive)
                with tarfile.open(archive) as tar:
                    tar.extractall(model_dir, filter="data")
            except Exception as exc:
                raise DeployFailed(
                    f'Failed to download model data for container "primary" from URL: "{data_url}": {exc}'
                ) from exc
        code_dir = model_dir / "code"
        submit = self.environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if submit and submit.startswith("s3://"):
            archive = self.sandbox / "sourcedir.tar.gz"
            try:
                bucket, key = split_s3_uri(submit)
                fetch_object(s3, bucket, key, archive)
                code_dir.mkdir(exist_ok=True)
                with tarfile.open(archive) as tar:
                    tar.extractall(code_dir, filter="data")
            except Exception as exc:
                raise DeployFailed(f"Failed to download SAGEMAKER_SUBMIT_DIRECTORY {submit}: {exc}") from exc
        program = self.environment.get("SAGEMAKER_PROGRAM")
        if not program or not (code_dir / program).is_file():
            raise DeployFailed(f"The inference script SAGEMAKER_PROGRAM={program!r} was not found in the model's code")

        env = _base_environment()
        env.update(
            {
                "AWS_ENDPOINT_URL": self.ctx.endpoint_url,
                "AWS_REGION": self.ctx.region,
                "AWS_DEFAULT_REGION": self.ctx.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "SM_MODEL_DIR": str(model_dir),
            }
        )
        env.update({k: str(v).replace("/opt/ml", str(self.sandbox)) for k, v in self.environment.items()})
        try:
            python = python_for_image(self.image)
        except UnknownImage as exc:
            # What SageMaker reports when the model's image cannot be pulled (CreateEndpoint -> Failed).
            raise DeployFailed(
                f"The image '{self.image}' for production variant {self.name} does not exist or cannot be pulled"
            ) from exc
        except ImageEnvMissing as exc:
            raise DeployFailed(f"InternalServerError: {exc}") from exc
        log = open(self.sandbox / "model_server.log", "ab")  # noqa: SIM115 - owned by the process
        zygote = serving_stacks.get(self.ctx, python) if _forkable(self.environment) else None
        if zygote is not None:
            requests_read, requests_write = os.pipe()
            answers_read, answers_write = os.pipe()
            command = worker_command(python, code_dir, model_dir, program)
            spec = {"cwd": str(code_dir), "env": env, "argv": command[2:]}
            try:
                pid, pidfd = zygote.spawn(spec, [requests_read, answers_write, log.fileno()])
            finally:
                for fd in (requests_read, answers_write):
                    os.close(fd)
                log.close()
            self._proc = ForkedProcess(
                pid, pidfd, stdin=os.fdopen(requests_write, "wb"), stdout=os.fdopen(answers_read, "rb")
            )
        else:
            self._proc = subprocess.Popen(
                worker_command(python, code_dir, model_dir, program),
                cwd=code_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
            log.close()
        header: dict[str, Any] = {}

        def read_ready() -> None:
            header.update(self._read()[0])

        reader = threading.Thread(target=read_ready, daemon=True)
        reader.start()
        reader.join(MODEL_LOAD_TIMEOUT_SECONDS)
        if not header.get("ready"):
            error = header.get("error") or "the model server did not start"
            self.close()
            raise DeployFailed(
                f"The primary container for production variant {self.name} did not pass the ping health check: {error}"
            )

    def _read(self) -> tuple[dict[str, Any], bytes]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            return {"ready": False, "status": 500, "error": "the model server exited"}, b""
        header = json.loads(line)
        body = self._proc.stdout.read(header.get("length", 0)) if header.get("length") else b""
        return header, body

    def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], bytes]:
        """The container's answer to POST /invocations: ({"status", "content_type"}, body).

        `headers`: the request's Content-Type and Accept as SageMaker forwards them. A variant that is not
        running answers {"status": 500, "error": ...} ("retired": True when an update or delete closed it).
        """
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or proc.stdin is None:
                return {"status": 500, "error": "the model server is not running", "retired": self.retired}, b""
            try:
                request = {"headers": headers, "length": len(body)}
                proc.stdin.write(json.dumps(request).encode() + b"\n" + body)
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return {"status": 500, "error": "the model server exited"}, b""
            return self._read()

    def close(self) -> None:
        self.retired = True
        drained = self._lock.acquire(timeout=DRAIN_SECONDS)  # the request being answered finishes first
        try:
            proc, self._proc = self._proc, None
        finally:
            if drained:
                self._lock.release()
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()

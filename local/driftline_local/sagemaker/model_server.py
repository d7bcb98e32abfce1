"""A production variant's model server: the model and code unpacked into a sandbox, a worker process.

Each variant gets a persistent worker process (`_inference_worker.py`), started with the interpreter of
the model image's environment (`image_envs.python_for_image` on PrimaryContainer.Image), with the model's
`model.tar.gz` extracted to its sandbox's `model/` and the SAGEMAKER_SUBMIT_DIRECTORY tarball to
`model/code/` (where the SageMaker framework containers put it). The worker loads SAGEMAKER_PROGRAM and
answers as the XGBoost container's serving stack does (`_serving_contract.py`); a variant answers one
request at a time. The worker starts behind `_serving_stack.py`, which first imports what the XGBoost
image's serving stack imports (xgboost, and scikit-learn through it), so an endpoint starts no cheaper here
than on AWS.
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

from ._aws import client, split_s3_uri
from .image_envs import ImageEnvMissing, UnknownImage, python_for_image

MODEL_LOAD_TIMEOUT_SECONDS = 120.0
DRAIN_SECONDS = 5.0  # how long retiring a variant waits for the request it is answering
_WORKER = Path(__file__).with_name("_inference_worker.py")
_SERVING_STACK = Path(__file__).with_name("_serving_stack.py")


def worker_command(python: str, code_dir: Path, model_dir: Path, program: str) -> list[str]:
    """The model server's command line: the serving stack's imports, then `_inference_worker.py`."""
    return [python, str(_SERVING_STACK), str(_WORKER), str(code_dir), str(model_dir), program]


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
        self._proc: subprocess.Popen[bytes] | None = None
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
                s3.download_file(bucket, key, str(archive))
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
                s3.download_file(bucket, key, str(archive))
                code_dir.mkdir(exist_ok=True)
                with tarfile.open(archive) as tar:
                    tar.extractall(code_dir, filter="data")
            except Exception as exc:
                raise DeployFailed(f"Failed to download SAGEMAKER_SUBMIT_DIRECTORY {submit}: {exc}") from exc
        program = self.environment.get("SAGEMAKER_PROGRAM")
        if not program or not (code_dir / program).is_file():
            raise DeployFailed(f"The inference script SAGEMAKER_PROGRAM={program!r} was not found in the model's code")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "MOTO_", "SAGEMAKER_"))}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
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

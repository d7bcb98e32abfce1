"""SageMaker batch transform jobs that really run: the input split as SageMaker splits it, the model served as
an endpoint serves it, the input joined with the output.

moto records CreateTransformJob and reports it `Completed` at once, with no output. Here a job runs in a
background thread (one at a time, as the local cloud's jobs do):

1. the request is refused as SageMaker refuses it: a name already taken, an unknown model, MaxPayloadInMB
   outside 0-100, MaxPayloadInMB x MaxConcurrentTransforms above 100 MB, a filter longer than 63 characters
   (`_refusal`; a filter the local cloud cannot apply to CSV is refused too, saying so); the job is
   InProgress and its state-change event goes out;
2. every object under the input `S3Prefix` is read with the *model's execution role* (IAM enforced);
3. the model is served by the same model server as an endpoint variant (`model_server.VariantWorker`: the
   model image's environment, its serving stack, SAGEMAKER_PROGRAM from the model's code), with the job's
   `Environment` added to the container's;
4. `SplitType: Line` cuts each object at line breaks into records, nothing else: a header line is a record
   like any other, as the container sees it (there is no header option). `BatchStrategy: MultiRecord` packs
   consecutive records into one request up to `MaxPayloadInMB`; `SingleRecord` sends one per request; a
   record above MaxPayloadInMB fails the job. `SplitType: None` sends each object whole;
5. `DataProcessing.InputFilter` selects the CSV columns the model gets (`$`, `$[i]`, `$[a:b]`, `$[i,j,...]`);
   with `JoinSource: Input` each output record is appended to its (unfiltered) input record, after which
   `OutputFilter` selects columns of the joined row; the model must answer one record per input record;
6. `AssembleWith: Line` writes one record per line, `None` concatenates; the result goes to
   `<S3OutputPath>/<path of the object below the input prefix>.out`, only when the whole object succeeded;
7. the job ends Completed, or Failed with a FailureReason, and its state-change event goes out
   (`SageMaker Transform Job State Change`, detail = DescribeTransformJob with epoch-ms times, Tags as a map).

Locally one model server answers the job's requests one at a time: MaxConcurrentTransforms and
InstanceCount are checked and recorded, not parallelised. Tests read what the model received through
`requests_of(job)`.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import LOG, LogStream, client, event_detail, put_event, split_s3_uri
from .model_server import DeployFailed, VariantWorker

TRANSFORM_EVENT = "SageMaker Transform Job State Change"
MB = 1024 * 1024
MAX_PAYLOAD_MB = 100  # MaxPayloadInMB, and MaxPayloadInMB x MaxConcurrentTransforms (CreateTransformJob reference)
JOB_ERROR = "ClientError: See job logs for more information"
_FILTER = re.compile(r"^\$(?:\[(?P<body>[0-9:, -]*)\])?$")

_RUNNER: TransformRunner | None = None


class TransformFailed(Exception):
    """The job fails; the message is its FailureReason."""


class TransformRunner:
    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sagemaker-transform")
        self._done: dict[str, threading.Event] = {}
        self._requests: dict[str, list[bytes]] = {}

    def submit(self, fake: Any, model: Any) -> None:
        now = datetime.now(UTC)
        fake.transform_job_status = "InProgress"
        fake.failure_reason = None
        fake.creation_time = fake.last_modified_time = now
        fake.transform_start_time = None
        fake.transform_end_time = None
        self._done[fake.transform_job_name] = threading.Event()
        self._requests[fake.transform_job_name] = []
        self._emit(fake)
        try:
            self._pool.submit(self._run, fake, model)
        except RuntimeError:  # the local cloud is stopping
            LOG.info("transform job %s created while the local cloud stopped; not run", fake.transform_job_name)

    def wait(self, name: str, timeout: float | None = None) -> bool:
        done = self._done.get(name)
        return done.wait(timeout) if done else False

    def requests_of(self, name: str) -> list[bytes]:
        return list(self._requests.get(name, []))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _emit(self, fake: Any) -> None:
        put_event(self.ctx, TRANSFORM_EVENT, fake.arn, event_detail(fake.response_object))

    def _run(self, fake: Any, model: Any) -> None:
        name = fake.transform_job_name
        sandbox = self.ctx.workdir / "transform" / name
        log = LogStream(self.ctx, "/aws/sagemaker/TransformJobs", f"{name}/local-instance")
        worker: VariantWorker | None = None
        status, reason = "Completed", None
        try:
            fake.transform_start_time = datetime.now(UTC)
            if sandbox.exists():
                shutil.rmtree(sandbox)
            sandbox.mkdir(parents=True)
            container = dict(model.primary_container or {})
            container["Environment"] = {**(container.get("Environment") or {}), **(fake.environment or {})}
            served = SimpleNamespace(
                model_name=model.model_name,
                primary_container=container,
                execution_role_arn=model.execution_role_arn,
            )
            worker = VariantWorker(self.ctx, sandbox / "model-server", {"VariantName": "AllTraffic"}, served)
            try:
                worker.start()
            except DeployFailed as exc:
                raise TransformFailed(f"ClientError: {exc}") from exc
            for rel, body in self._inputs(fake, model):
                output = self._transform_object(fake, worker, body, log)
                self._write_output(fake, model, rel, output)
                log.add(f"{rel}: {len(output)} bytes written")
        except TransformFailed as exc:
            status, reason = "Failed", str(exc)[:1024]
        except Exception as exc:  # never leave a job InProgress because the runner broke
            if self.ctx.stop_event.is_set():
                return
            LOG.exception("transform job %s crashed the local runner", name)
            status, reason = "Failed", f"InternalServerError: local runner error: {exc}"[:1024]
        finally:
            if worker is not None:
                worker.close()
            log.flush()
        now = datetime.now(UTC)
        fake.transform_end_time = fake.last_modified_time = now
        fake.failure_reason = reason
        fake.transform_job_status = status
        self._emit(fake)
        self._done[name].set()

    def _inputs(self, fake: Any, model: Any) -> list[tuple[str, bytes]]:
        source = fake.transform_input["DataSource"]["S3DataSource"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise TransformFailed(f"ClientError: the local cloud reads S3DataType S3Prefix only, not {source}")
        bucket, prefix = split_s3_uri(source["S3Uri"])
        s3 = client(self.ctx, "s3", model.execution_role_arn)  # SageMaker reads the input with the model's role
        found: list[tuple[str, bytes]] = []
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue
                    rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                    found.append((rel, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except TransformFailed:
            raise
        except Exception as exc:
            raise TransformFailed(f"ClientError: Access denied or missing input at {source['S3Uri']}: {exc}") from exc
        if not found:
            raise TransformFailed(f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input')
        return found

    def _transform_object(self, fake: Any, worker: VariantWorker, body: bytes, log: LogStream) -> bytes:
        transform_input = fake.transform_input
        split = transform_input.get("SplitType") or "None"
        processing = fake.data_processing or {}
        input_filter = processing.get("InputFilter") or "$"
        output_filter = processing.get("OutputFilter") or "$"
        join = (processing.get("JoinSource") or "None") == "Input"
        processed = join or input_filter.strip() != "$" or output_filter.strip() != "$"
        if processed and (transform_input.get("ContentType") or "").split(";")[0].strip() != "text/csv":
            # SageMaker applies data processing to CSV and JSON input only; the local cloud to CSV only.
            raise TransformFailed(
                "ClientError: the local cloud applies InputFilter/JoinSource/OutputFilter to text/csv only"
            )
        records = split_records(body) if split == "Line" else [body]
        limit = (fake.max_payload_in_mb if fake.max_payload_in_mb is not None else 6) * MB
        batches = mini_batches(records, limit, fake.batch_strategy or "MultiRecord") if limit else [records]
        headers = {
            "Content-Type": transform_input.get("ContentType") or "application/octet-stream",
            "Accept": (fake.transform_output or {}).get("Accept") or "*/*",
        }
        results: list[bytes] = []
        for batch in batches:
            sent = b"".join(select_columns(record, input_filter) for record in batch)
            self._requests[fake.transform_job_name].append(sent)
            answer, answered = worker.invoke(sent, headers)
            status = int(answer.get("status", 500))
            if status != 200:
                log.add(f"POST /invocations: {status} {answered[:2000].decode('utf-8', 'replace')}")
                raise TransformFailed(JOB_ERROR)
            outputs = split_records(answered) if split == "Line" else [answered]
            if join or output_filter != "$":
                if len(outputs) != len(batch):
                    log.add(f"the model answered {len(outputs)} records for {len(batch)}")
                    raise TransformFailed(JOB_ERROR)
                outputs = [
                    select_columns(join_record(record, out) if join else out, output_filter)
                    for record, out in zip(batch, outputs, strict=True)
                ]
            results += outputs
        assemble = (fake.transform_output or {}).get("AssembleWith") or "None"
        if assemble == "Line":
            return b"".join(r.rstrip(b"\r\n") + b"\n" for r in results)
        return b"".join(results)

    def _write_output(self, fake: Any, model: Any, rel: str, output: bytes) -> None:
        bucket, prefix = split_s3_uri(fake.transform_output["S3OutputPath"])
        key = f"{prefix.rstrip('/')}/{rel}.out" if prefix else f"{rel}.out"
        try:
            client(self.ctx, "s3", model.execution_role_arn).put_object(Bucket=bucket, Key=key, Body=output)
        except Exception as exc:
            raise TransformFailed(f"ClientError: could not write s3://{bucket}/{key}: {exc}") from exc


# --- the data path (pure) ----------------------------------------------------------------------------


def split_records(body: bytes) -> list[bytes]:
    """SplitType Line: one record per line, its line break kept; blank lines are records too, empty ones not."""
    return [line for line in io.BytesIO(body).readlines() if line]


def mini_batches(records: list[bytes], limit: int, strategy: str) -> list[list[bytes]]:
    """MultiRecord: consecutive records up to `limit` bytes per request; SingleRecord: one each."""
    batches: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for record in records:
        if len(record) > limit:
            raise TransformFailed(
                f"ClientError: a record of {len(record)} bytes is larger than MaxPayloadInMB ({limit // MB} MB); "
                "raise MaxPayloadInMB or split the record"
            )
        if current and (strategy == "SingleRecord" or size + len(record) > limit):
            batches.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record)
    if current:
        batches.append(current)
    return batches


def _columns(expression: str) -> list[int | slice] | None:
    """The column selection of a JSONPath filter on CSV (`$`, `$[1:]`, `$[0,2:4]`); None for everything."""
    match = _FILTER.match(expression.strip())
    if match is None:
        raise ValueError(expression)
    body = match.group("body")
    if body is None:
        return None
    parts: list[int | slice] = []
    for part in body.replace(" ", "").split(","):
        if ":" in part:
            start, _, stop = part.partition(":")
            parts.append(slice(int(start) if start else None, int(stop) if stop else None))
        else:
            parts.append(int(part))
    return parts


def select_columns(record: bytes, expression: str) -> bytes:
    """A CSV record's columns as the filter selects them (the line break kept)."""
    selection = _columns(expression)
    if selection is None:
        return record
    ending = record[len(record.rstrip(b"\r\n")) :]
    row = next(csv.reader([record.decode("utf-8").rstrip("\r\n")]), [])
    chosen: list[str] = []
    for part in selection:
        if isinstance(part, slice):
            chosen += row[part]
        elif part < len(row):
            chosen.append(row[part])
        else:  # "If you specify indexes that aren't within the dimension size of the joined dataset, you get an error"
            raise TransformFailed(
                f"ClientError: the filter {expression} selects column {part} of a record with {len(row)} columns"
            )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(chosen)
    return buffer.getvalue().encode() + ending


def join_record(record: bytes, output: bytes) -> bytes:
    """JoinSource Input on CSV: the input record, then the transformed record appended to its end."""
    return record.rstrip(b"\r\n") + b"," + output.rstrip(b"\r\n") + b"\n"


def _refusal(params: dict[str, Any], backend: Any) -> str | None:
    """The ValidationException message SageMaker answers CreateTransformJob with, or None."""
    name = params.get("TransformJobName") or ""
    existing = backend.transform_jobs.get(name)
    if existing is not None:
        return (
            "Job name must be unique within an AWS account and region, and a job with this name already exists "
            f"({existing.arn})"
        )
    if params.get("ModelName") not in backend._models:
        return f'Could not find model "{params.get("ModelName")}".'
    payload = params.get("MaxPayloadInMB")
    concurrency = params.get("MaxConcurrentTransforms")
    if payload is not None and not 0 <= int(payload) <= MAX_PAYLOAD_MB:
        return (
            f"1 validation error detected: Value '{payload}' at 'maxPayloadInMB' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_PAYLOAD_MB}"
        )
    if payload and concurrency and int(payload) * int(concurrency) > MAX_PAYLOAD_MB:
        return (
            f"MaxConcurrentTransforms ({concurrency}) x MaxPayloadInMB ({payload}) must not exceed {MAX_PAYLOAD_MB} MB"
        )
    processing = params.get("DataProcessing") or {}
    for field in ("InputFilter", "OutputFilter"):
        expression = processing.get(field)
        if expression is None:
            continue
        if len(expression) > 63:
            return f"{field} must be at most 63 characters"
        try:
            _columns(expression)
        except ValueError:
            return f"{field} '{expression}' is not a JSONPath the local cloud can apply to CSV ($, $[i], $[a:b])"
    if processing.get("JoinSource") not in (None, "None", "Input"):
        return f"JoinSource must be None or Input, not {processing.get('JoinSource')!r}"
    return None


def runner() -> TransformRunner:
    if _RUNNER is None:
        raise RuntimeError("driftline_local.sagemaker is not installed")
    return _RUNNER


def requests_of(name: str) -> list[bytes]:
    """The request bodies the job's model received, in order (what SageMaker's split and filter produced)."""
    return runner().requests_of(name)


def wait(name: str, timeout: float | None = None) -> bool:
    """Block until the transform job has ended."""
    return runner().wait(name, timeout)


def install(ctx: LocalCloudContext) -> TransformRunner:
    global _RUNNER
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if _RUNNER is not None:
        _RUNNER.shutdown()
    transform_runner = _RUNNER = TransformRunner(ctx)
    original = getattr(SageMakerResponse.create_transform_job, "__wrapped__", SageMakerResponse.create_transform_job)

    def create_transform_job(self: Any) -> Any:
        params = {
            key: self._get_param(key)
            for key in (
                "TransformJobName",
                "ModelName",
                "MaxPayloadInMB",
                "MaxConcurrentTransforms",
                "TransformInput",
                "TransformOutput",
                "DataProcessing",
            )
        }
        refusal = _refusal(params, self.sagemaker_backend)
        if refusal:
            raise ValidationError(message=refusal)
        result = original(self)
        name = params["TransformJobName"]
        transform_runner.submit(
            self.sagemaker_backend.transform_jobs[name], self.sagemaker_backend._models[params["ModelName"]]
        )
        return result

    create_transform_job.__wrapped__ = original  # type: ignore[attr-defined]
    SageMakerResponse.create_transform_job = create_transform_job  # type: ignore[method-assign]

    def on_stop() -> None:
        ctx.stop_event.wait()
        transform_runner.shutdown()

    threading.Thread(target=on_stop, name="sagemaker-transform-shutdown", daemon=True).start()
    return transform_runner


__all__ = ["TRANSFORM_EVENT", "install", "requests_of", "runner", "wait"]

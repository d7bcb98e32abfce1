"""The local cloud runs a SAM app the way AWS would: events reach real handlers, state machines
call them, errors route by class name, schedules fire and pages land in the mailbox."""

from __future__ import annotations

import json
import os
import time

from driftline_local import eventbridge, sns
from driftline_local.lambda_runtime import active_runtime

from .waiting import eventually


def _items(aws, stack, prefix):
    table = stack.outputs["StateTableName"]
    items = aws("dynamodb").scan(TableName=table)["Items"]
    return [i for i in items if i["pk"]["S"].startswith(prefix)]


def _executions(aws, stack, status=None):
    sfn = aws("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.outputs["PipelineArn"])["executions"]
    return [e for e in executions if status is None or e["status"] == status]


def test_describe_stacks_returns_the_outputs(stack, aws):
    described = aws("cloudformation").describe_stacks(StackName="localtest")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["DataBucketName"] == stack.outputs["DataBucketName"]
    assert outputs["PipelineArn"].startswith("arn:aws:states:us-east-1:123456789012:stateMachine:")
    assert aws("cloudwatch").describe_alarms(AlarmNames=["localtest-errors"])["MetricAlarms"]


def test_a_versioned_bucket_keeps_every_version_of_an_overwritten_object(stack, aws):
    bucket = stack.outputs["DataBucketName"]
    s3 = aws("s3")

    first = s3.put_object(Bucket=bucket, Key="kept/same-name.csv", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="kept/same-name.csv", Body=b"second")

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_object(Bucket=bucket, Key="kept/same-name.csv", VersionId=first)["Body"].read() == b"first"


def test_upload_runs_the_handler_and_the_state_machine_succeeds(stack, aws):
    aws("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/good.csv", Body=b"a,b\n1,2\n")

    item = eventually(lambda: _items(aws, stack, "upload#incoming/good.csv"))[0]
    assert item["greeting"]["S"] == "hello"
    assert item["function"]["S"].startswith("localtest-RecordUploadFunction-")
    assert 0 < int(item["remaining_ms"]["N"]) <= 30_000

    def succeeded():
        sfn = aws("stepfunctions")
        for execution in _executions(aws, stack, "SUCCEEDED"):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if json.loads(described["input"])["key"] == "incoming/good.csv":
                return json.loads(described["output"])

    assert eventually(succeeded) == {"checked": {"rows": 2}}


def test_error_class_name_routes_the_catch_and_pages_on_call(stack, aws, cloud):
    aws("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/bad.csv", Body=b"nope\n")

    failed = eventually(lambda: _executions(aws, stack, "FAILED"))
    history = aws("stepfunctions").get_execution_history(executionArn=failed[0]["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "Page on-call" in entered

    page = eventually(lambda: [m for m in sns.read_mailbox(cloud.ctx) if m["subject"] == "Invalid dataset"])[0]
    assert page["endpoint"] == "pager@example.com"
    assert json.loads(page["message"])["errorType"] == "InvalidDataset"
    assert "no header row" in json.loads(page["message"])["errorMessage"]


def test_two_uploads_give_two_distinct_event_ids_and_increasing_sequencers(stack, aws):
    s3 = aws("s3")
    for name in ("first", "second"):
        s3.put_object(Bucket=stack.outputs["DataBucketName"], Key=f"incoming/{name}.csv", Body=b"a,b\n")

    first = eventually(lambda: _items(aws, stack, "upload#incoming/first.csv"))[0]
    second = eventually(lambda: _items(aws, stack, "upload#incoming/second.csv"))[0]
    assert first["event_id"]["S"] != second["event_id"]["S"]
    assert first["sequencer"]["S"] < second["sequencer"]["S"]


def test_failed_async_invocation_goes_to_the_on_failure_destination(stack, aws):
    aws("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/x.boom", Body=b"")

    def received():
        return aws("sqs").receive_message(QueueUrl=stack.outputs["FailureQueueUrl"]).get("Messages")

    record = json.loads(eventually(received)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["requestPayload"]["detail"]["object"]["key"] == "incoming/x.boom"


def test_schedule_fires_the_scheduled_function(stack, aws):
    tick = eventually(lambda: _items(aws, stack, "tick#"), timeout=10)[0]
    assert tick["source"]["S"] == "aws.events"


def test_emitted_event_reaches_matching_rule(stack, aws, cloud):
    detail = {
        "bucket": {"name": stack.outputs["DataBucketName"]},
        "object": {"key": "incoming/emitted.csv", "etag": "x", "sequencer": "01"},
    }
    event_id = eventbridge.emit(cloud.ctx, "aws.s3", "Object Created", detail)

    item = eventually(lambda: _items(aws, stack, "upload#incoming/emitted.csv"))[0]
    assert item["event_id"]["S"] == event_id


def test_handler_logs_reach_the_log_file_and_cloudwatch_logs(stack, aws, cloud):
    aws("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/logged.csv", Body=b"a,b\n")
    eventually(lambda: _items(aws, stack, "upload#incoming/logged.csv"))
    name = next(n for n in cloud.ctx.functions if "RecordUpload" in n)

    log_file = cloud.workdir / "lambda" / f"{name}.log"
    eventually(lambda: log_file.exists() and "recorded incoming/logged.csv" in log_file.read_text())
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert any("recorded incoming/logged.csv" in e["message"] for e in events)


def test_a_deployed_function_is_initialized_before_its_first_invocation(stack, aws, cloud):
    name = stack.resources["InitializedAtFunction"]
    runtime = active_runtime()
    runtime.set_idle_lifetime(86_400)  # the deploy's environment may be idle longer than the default lifetime
    try:
        runtime.initialize_ahead([name])  # what a deploy does (a no-op if its environment is still alive)
        runtime.wait_until_initialized()
        invoked_at = time.time()

        first = json.loads(aws("lambda").invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
        second = json.loads(aws("lambda").invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    finally:
        runtime.set_idle_lifetime(cloud.ctx.lambda_idle_seconds)

    assert first["initialized_at"] < invoked_at
    assert second == first  # the same warm environment serves the next request


def _smaps_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def test_execution_environments_hold_the_runtime_libraries_once_shared_copy_on_write(stack, aws):
    # Given a function's execution environment (its own process)
    response = aws("lambda").invoke(FunctionName=stack.resources["InitializedAtFunction"], Payload=b"{}")
    pid = json.loads(response["Payload"].read())["pid"]

    # Then the libraries every handler imports from the runtime (boto3, botocore, pydantic) are pages it
    # shares with the runtime's other environments, not its own copy: a fresh interpreter importing them
    # holds them privately (its Shared_Dirty is near 0)
    assert _smaps_kib(pid, "Shared_Dirty") >= 8 * 1024


def test_a_function_that_bundles_its_own_copy_of_a_runtime_library_imports_its_copy(tmp_path):
    # Given a function whose code bundles its own pydantic (the runtime's zygote has its own imported)
    code = tmp_path / "code"
    (code / "pydantic").mkdir(parents=True)
    (code / "pydantic" / "__init__.py").write_text("BUNDLED = True\n")
    (code / "app.py").write_text(
        "import os, pydantic\n"
        "def handler(event, context):\n"
        "    return {'bundled': getattr(pydantic, 'BUNDLED', False), 'greeting': os.environ['GREETING']}\n"
    )

    answer = _invoke_once_in_a_forked_environment(
        tmp_path, code, {"AWS_LAMBDA_FUNCTION_NAME": "bundles-pydantic", "GREETING": "hi"}, {}, timeout_seconds=3
    )

    # Then its handler imported the bundled copy, with the function's own environment
    assert answer == {"bundled": True, "greeting": "hi"}


def test_a_function_setting_what_a_shared_library_reads_at_import_starts_a_fresh_interpreter():
    from driftline_local.lambda_runtime import _ZYGOTE_ENV, _forkable

    runtime_env = {"PATH": "/usr/bin", "PYTHONPATH": "/code", **_ZYGOTE_ENV}

    assert _forkable(runtime_env)
    assert not _forkable({**runtime_env, "POWERTOOLS_DEBUG": "1"})  # Powertools reads it when imported
    assert not _forkable({**runtime_env, "PYTHONHASHSEED": "0"})  # read when the interpreter starts


_FIRST_WORK_HANDLER = """
import json, os
from typing import Literal

import boto3
import pydantic
import pydantic.plugin._loader as plugins

STATE_AT_IMPORT = {"default_session": boto3.DEFAULT_SESSION is None, "plugins_unread": plugins._plugins is None}


def _shared_dirty_kib():
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Shared_Dirty:"))


class Upload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    bucket: str
    key: str
    kind: Literal["data", "config"] = "data"
    sizes: dict[str, int] = pydantic.Field(default_factory=dict)


def handler(event, context):
    shared_before = _shared_dirty_kib()
    upload = Upload.model_validate(event).model_dump(mode="json")
    s3 = boto3.client("s3")
    table = boto3.client("dynamodb")
    try:
        table.get_item(TableName="t", Key={"id": {"S": upload["key"]}})
    except Exception as exc:
        error = type(exc).__name__
    return {
        **STATE_AT_IMPORT,
        "endpoint": s3.meta.endpoint_url,
        "region": s3.meta.region_name,
        "disable_plugins": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
        "error": error,
        "copied_kib": shared_before - _shared_dirty_kib(),
    }
"""


def _first_invocation_in_a_forked_environment(tmp_path, handler_source, event):
    """Fork one environment from a fresh Lambda zygote with `handler_source` as app.py; its first answer."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(handler_source)
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "first-work",
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "AKIAFIRSTWORK",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",  # nothing listens: a call fails fast
        "AWS_MAX_ATTEMPTS": "1",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    return _invoke_once_in_a_forked_environment(tmp_path, code, env, event, timeout_seconds=30)


def _invoke_once_in_a_forked_environment(tmp_path, code, function_env, event, timeout_seconds):
    """Fork one environment running `code`'s app.handler from a fresh Lambda zygote; its first answer's payload."""
    from driftline_local.lambda_runtime import _start_zygote

    home = tmp_path / "home"
    home.mkdir()
    zygote = _start_zygote(home)
    request_read, request_write = os.pipe()
    response_read, response_write = os.pipe()
    output_read, output_write = os.pipe()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(code),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **function_env,
    }
    try:
        zygote.spawn(
            {"cwd": str(code), "env": env, "handler": "app.handler"}, [output_write, request_read, response_write]
        )
        for fd in (output_write, request_read, response_write):
            os.close(fd)
        with os.fdopen(request_write, "w") as requests, os.fdopen(response_read) as responses:
            assert json.loads(responses.readline()) == {"ready": True}
            request = {
                "event": event,
                "aws_request_id": "r1",
                "invoked_function_arn": "arn",
                "timeout_seconds": timeout_seconds,
            }
            requests.write(json.dumps(request) + "\n")
            requests.flush()
            return json.loads(json.loads(responses.readline())["payload"])
    finally:
        os.close(output_read)
        zygote.close()


def test_an_environment_runs_its_first_work_in_its_own_state_and_copies_little_of_the_zygote(tmp_path):
    # Given a function whose first invocation builds a pydantic model and creates and calls AWS clients
    event = {"bucket": "b", "key": "k", "sizes": {"rows": 3}}

    answer = _first_invocation_in_a_forked_environment(tmp_path, _FIRST_WORK_HANDLER, event)

    # Then it started from a fresh interpreter's state (no default session, pydantic's plugins not yet read),
    # its clients use its own region and endpoint, and its call went to that endpoint
    assert answer["default_session"] and answer["plugins_unread"]
    assert (answer["endpoint"], answer["region"]) == ("http://127.0.0.1:1", "eu-west-3")
    assert answer["disable_plugins"] == "__all__"
    assert answer["error"] == "EndpointConnectionError"
    # and that first work copied fewer of the pages it shares with the zygote, because the zygote ran the same
    # library code on throwaway objects first (each page written is a private copy in every environment; 12.3 MiB
    # here without the zygote's warm-up, 10.3 MiB with it: the rest is reference counts on shared objects)
    assert answer["copied_kib"] < 11 * 1024


_S3_CLIENT_HANDLER = """
import boto3


def _shared_dirty_kib():
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Shared_Dirty:"))


def handler(event, context):
    session = boto3.session.Session()
    before = _shared_dirty_kib()
    s3 = session.client("s3")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    return {"copied_kib": before - _shared_dirty_kib(), "url": url.split("?")[0]}
"""


def test_an_environments_s3_client_resolves_its_endpoint_with_the_rules_built_once_in_the_zygote(tmp_path):
    # Given a function that creates an S3 client and resolves an object's URL (S3's endpoint rule set is the largest)
    answer = _first_invocation_in_a_forked_environment(tmp_path, _S3_CLIENT_HANDLER, {})

    # Then the URL is its own endpoint's (path style: a custom endpoint), and the client copied fewer of the
    # zygote's pages: 6.4 MiB here when each client built S3's rules from the shared parsed JSON, 5.4 MiB with
    # the rules built once (the rest: S3's customizations, the service model's shapes, reference counts)
    assert answer["url"] == "http://127.0.0.1:1/b/k"
    assert answer["copied_kib"] < 6 * 1024

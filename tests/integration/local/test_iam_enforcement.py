"""IAM enforced in the local cloud: each caller acts with its own template role.

A copy of template.yaml with one permission removed per caller is deployed to a fresh local cloud
(in its own interpreter: moto's backends are process-wide) and the callers that lost a permission
fail with AccessDenied, while the real template's callers succeed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from driftline_local import iam
from driftline_local.stack import load_template

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIO = Path(__file__).with_name("iam_scenario.py")


def _run_scenario(template: Path, workdir: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(SCENARIO), str(template), str(workdir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"scenario failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def _template_without_permissions(dest: Path) -> Path:
    """template.yaml with two permissions removed: the config handler's s3:GetObject on models/*,
    and the training pipeline's lambda:InvokeFunction on PrepareRunFunction."""
    template = load_template(REPO_ROOT / "template.yaml")
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str(REPO_ROOT / properties[key])
    config_policies = template["Resources"]["OnConfigUploadedFunction"]["Properties"]["Policies"]
    for policy in config_policies:
        if isinstance(policy, dict) and "Statement" in policy:
            before = len(policy["Statement"])
            policy["Statement"] = [s for s in policy["Statement"] if "s3:GetObject" not in s["Action"]]
            assert len(policy["Statement"]) == before - 1
    pipeline = template["Resources"]["TrainingPipeline"]["Properties"]
    before = len(pipeline["Policies"])
    pipeline["Policies"] = [
        p for p in pipeline["Policies"] if p != {"LambdaInvokePolicy": {"FunctionName": {"Ref": "PrepareRunFunction"}}}
    ]
    assert len(pipeline["Policies"]) == before - 1
    path = dest / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_scenario(REPO_ROOT / "template.yaml", tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("reduced")
    return _run_scenario(_template_without_permissions(work), work / "cloud")


def test_with_the_real_template_the_config_handler_reads_its_upload(real: dict[str, Any]) -> None:
    assert real["config"]["function_error"] is None, real["config"]
    assert real["config"]["payload"]["outcome"] == "activated"


def test_with_the_real_template_the_pipeline_role_invokes_its_function(real: dict[str, Any]) -> None:
    assert real["plan_task"] == {"outcome": "TaskSucceeded"}


def test_without_s3_get_object_the_config_handler_fails_with_access_denied(reduced: dict[str, Any]) -> None:
    config = reduced["config"]
    assert config["function_error"] == "Unhandled"
    assert config["payload"]["errorType"] == "AccessDenied"
    message = config["payload"]["errorMessage"]
    assert "OnConfigUploadedFunctionRole" in message
    assert "is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::" in message
    assert "/models/churn/model.yaml" in message


def test_without_invoke_permission_the_pipeline_task_fails_with_access_denied(reduced: dict[str, Any]) -> None:
    task = reduced["plan_task"]
    assert task["outcome"] == "TaskFailed"
    assert task["error"] == "Lambda.AccessDeniedException"
    assert "lambda:InvokeFunction" in task["cause"] and "PrepareRunFunction" in task["cause"]


def test_a_sagemaker_job_stages_data_with_its_role(real: dict[str, Any]) -> None:
    """`sagemaker._aws.client(ctx, "s3", RoleArn)`: the job role reads training data, not model configs."""
    assert real["sagemaker_role"]["incoming/churn/a.csv"] == "read"
    assert real["sagemaker_role"]["models/churn/model.yaml"] == "AccessDenied"


def test_a_role_is_assumed_only_by_the_services_its_trust_policy_names(real: dict[str, Any]) -> None:
    assert real["sagemaker_role"]["lambda_assumes_it"] is False


def test_a_role_allowed_everything_passes_iam_on_every_kind_of_request(real: dict[str, Any]) -> None:
    """Signatures of form, JSON, REST and bodiless requests check out; actions and resources map."""
    assert real["admin_role"] == dict.fromkeys(real["admin_role"], "ok")


# --- the decision itself ------------------------------------------------------------------------
BUCKET_OBJECTS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/models/*"},
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:us-east-1:1:table/state"},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::1:role/sm",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringLike": {"cloudwatch:namespace": ["Driftline*"]}},
        },
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/models/secret.yaml"},
        {  # a condition key the local cloud cannot know: a Deny does not apply, an Allow does
            "Effect": "Deny",
            "Action": "sns:Publish",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
        },
        {"Effect": "Allow", "Action": "sns:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ],
}


@pytest.mark.parametrize(
    ("action", "resource", "context", "decision"),
    [
        ("s3:GetObject", "arn:aws:s3:::data/models/a.yaml", {}, "Allow"),
        ("S3:getobject", "arn:aws:s3:::data/models/a.yaml", {}, "Allow"),  # actions are case-insensitive
        ("s3:GetObject", "arn:aws:s3:::data/incoming/a.csv", {}, "ImplicitDeny"),
        ("s3:GetObject", "arn:aws:s3:::data/models/secret.yaml", {}, "Deny"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/state", {}, "Allow"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/other", {}, "ImplicitDeny"),
        ("iam:PassRole", "arn:aws:iam::1:role/sm", {"iam:passedtoservice": "sagemaker.amazonaws.com"}, "Allow"),
        ("iam:PassRole", "arn:aws:iam::1:role/sm", {"iam:passedtoservice": "lambda.amazonaws.com"}, "ImplicitDeny"),
        ("cloudwatch:PutMetricData", None, {"cloudwatch:namespace": "Driftline/Monitoring"}, "Allow"),
        ("cloudwatch:PutMetricData", None, {"cloudwatch:namespace": "Other"}, "ImplicitDeny"),
        ("sns:Publish", "arn:aws:sns:us-east-1:1:t", {}, "Allow"),
    ],
)
def test_decide(action: str, resource: str | None, context: dict[str, str], decision: str) -> None:
    assert iam.decide([BUCKET_OBJECTS], action, resource, context) == decision


def test_a_request_implies_what_aws_checks_besides_its_action() -> None:
    checks = iam.request_checks(
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "Churn-1", "RoleArn": "arn:aws:iam::1:role/sm"},
        "us-east-1",
        "1",
    )
    assert [(c.action, c.resource) for c in checks] == [
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:1:training-job/churn-1"),
        ("iam:PassRole", "arn:aws:iam::1:role/sm"),
    ]
    assert checks[1].context == {"iam:passedtoservice": "sagemaker.amazonaws.com"}
    copy = iam.request_checks(
        "s3",
        "PutObject",
        {},
        "us-east-1",
        "1",
        "arn:aws:s3:::data/quarantine/a.csv",
        headers={"x-amz-copy-source": "/data/incoming/a.csv"},
    )
    assert [(c.action, c.resource) for c in copy] == [
        ("s3:PutObject", "arn:aws:s3:::data/quarantine/a.csv"),
        ("s3:GetObject", "arn:aws:s3:::data/incoming/a.csv"),
    ]
    assert iam.request_checks("lambda", "Invoke", {}, "us-east-1", "1", path="/2015-03-31/functions/f/invocations")[
        0
    ] == iam.Check("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:1:function:f")


def test_a_tuning_job_request_is_checked_on_the_tuning_job() -> None:
    """CreateHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob authorize on
    `hyper-parameter-tuning-job/<name>` (lower-cased, as SageMaker's ARNs are)."""
    create = iam.request_checks(
        "sagemaker", "CreateHyperParameterTuningJob", {"HyperParameterTuningJobName": "Churn-hpo"}, "us-east-1", "1"
    )
    trials = iam.request_checks(
        "sagemaker",
        "ListTrainingJobsForHyperParameterTuningJob",
        {"HyperParameterTuningJobName": "churn-hpo"},
        "us-east-1",
        "1",
    )
    arn = "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/churn-hpo"
    assert [(c.action, c.resource) for c in create] == [("sagemaker:CreateHyperParameterTuningJob", arn)]
    assert [(c.action, c.resource) for c in trials] == [("sagemaker:ListTrainingJobsForHyperParameterTuningJob", arn)]


def test_a_dashboard_request_is_checked_on_the_dashboard() -> None:
    """PutDashboard / GetDashboard / DeleteDashboards authorize on the dashboard (global: no region),
    so a role allowed `dashboard/driftline-*` cannot put another team's dashboard."""
    put = iam.request_checks("cloudwatch", "PutDashboard", {"DashboardName": "driftline-churn"}, "us-east-1", "1")
    assert put == [iam.Check("cloudwatch:PutDashboard", "arn:aws:cloudwatch::1:dashboard/driftline-churn")]
    get = iam.request_checks("cloudwatch", "GetDashboard", {"DashboardName": "billing"}, "us-east-1", "1")
    assert get == [iam.Check("cloudwatch:GetDashboard", "arn:aws:cloudwatch::1:dashboard/billing")]
    delete = iam.request_checks("cloudwatch", "DeleteDashboards", {"DashboardNames": ["a", "b"]}, "us-east-1", "1")
    assert [c.resource for c in delete] == ["arn:aws:cloudwatch::1:dashboard/a", "arn:aws:cloudwatch::1:dashboard/b"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutDashboard",
                "Resource": "arn:aws:cloudwatch::1:dashboard/driftline-*",
            }
        ],
    }
    other = iam.request_checks("cloudwatch", "PutDashboard", {"DashboardName": "billing"}, "us-east-1", "1")[0]
    assert iam.decide([allow], other.action, other.resource, other.context) == "ImplicitDeny"
    assert iam.decide([allow], put[0].action, put[0].resource, put[0].context) == "Allow"


def test_a_tuning_job_passes_the_role_nested_in_its_training_job_definition() -> None:
    # CreateHyperParameterTuningJob carries the trials' role in TrainingJobDefinition.RoleArn (and in each of
    # TrainingJobDefinitions[]), not at the top: AWS still checks iam:PassRole on it.
    checks = iam.request_checks(
        "sagemaker",
        "CreateHyperParameterTuningJob",
        {
            "HyperParameterTuningJobName": "churn-tune",
            "TrainingJobDefinition": {"RoleArn": "arn:aws:iam::1:role/sm"},
            "TrainingJobDefinitions": [{"RoleArn": "arn:aws:iam::1:role/other"}],
        },
        "us-east-1",
        "1",
    )
    passed = [(c.resource, c.context) for c in checks if c.action == "iam:PassRole"]
    assert passed == [
        ("arn:aws:iam::1:role/sm", {"iam:passedtoservice": "sagemaker.amazonaws.com"}),
        ("arn:aws:iam::1:role/other", {"iam:passedtoservice": "sagemaker.amazonaws.com"}),
    ]


def test_a_role_inside_a_lambda_payload_is_data_not_a_passed_role() -> None:
    # A state machine invoking a Lambda with a training request in its payload passes no role.
    checks = iam.request_checks(
        "lambda",
        "Invoke",
        {"Payload": {"request": {"RoleArn": "arn:aws:iam::1:role/sm"}}},
        "us-east-1",
        "1",
        path="/2015-03-31/functions/f/invocations",
    )
    assert [c.action for c in checks] == ["lambda:InvokeFunction"]

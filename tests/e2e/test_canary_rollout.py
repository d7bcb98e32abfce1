"""CanaryRollout on the local cloud: real endpoints, real traffic, real alarms from real metrics."""

import time

import pytest
from driftline_local.loop import (
    FAST_TIMINGS,
    Clients,
    Stack,
    Traffic,
    onboard_model,
    start_rollout,
    states_entered,
    upload_frames,
    wait_for_execution,
    wait_for_run,
)
from driftline_local.sagemaker.endpoints import set_fault
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e

MODEL = "canary"
ENDPOINT = "driftline-canary"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS.replace("bake_seconds: 3", "bake_seconds: 6")
    + "training:\n  hyperparameters:\n    num_round: 30\nmonitoring:\n  enabled: false\n"
)
_candidates = iter(range(10, 60))


@pytest.fixture(scope="module")
def production(cloud):
    """A first model trained through the pipeline and serving alone (the first deployment)."""
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=31)])
    result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None, timeout=600)
    assert result.status == "SUCCEEDED", result.error
    described = clients("sagemaker").describe_training_job(TrainingJobName=result.attempts[-1]["job_name"])
    return {
        "clients": clients,
        "stack": stack,
        "cloud": cloud,
        "model_data_url": described["ModelArtifacts"]["S3ModelArtifacts"],
    }


def candidate_run() -> str:
    return f"{MODEL}-upload-20261128T0700{next(_candidates):02d}"


def serving_config(clients: Clients) -> tuple[str, list[str]]:
    described = clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return described["EndpointConfigName"], [v["VariantName"] for v in described["ProductionVariants"]]


def wait_until(check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise TimeoutError("condition not met")


def traffic(production) -> Traffic:
    rows = generate_bank_marketing(50, seed=32).drop(columns=["y", "duration"])
    return Traffic(production["clients"], ENDPOINT, rows, per_second=15)


def test_candidate_takes_traffic_step_by_step_and_is_promoted(production):
    clients, stack = production["clients"], production["stack"]
    _, before = serving_config(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        outcome = wait_for_execution(clients, execution)
        finished = time.time()
        time.sleep(2)

    assert outcome["status"] == "SUCCEEDED", read_mailbox(production["cloud"].ctx)[-1]["message"]
    assert states_entered(clients, execution).count("Shift more traffic to the candidate") == 2  # 10 -> 50 -> 100
    assert load.log.failed == 0
    assert load.log.served_by()[variant] > 0 and load.log.served_by()[before[0]] > 0
    assert set(load.log.served_by(since=finished + 1)) == {variant}
    assert serving_config(clients) == (f"{run}-config", [variant])
    record = clients("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "PRODUCTION"}}
    )["Item"]
    assert record["variant"]["S"] == variant


@pytest.mark.parametrize("shifts_before_fault", [0, 2], ids=["at-10-percent", "at-100-percent"])
def test_misbehaving_candidate_is_rolled_back_and_serves_nothing_afterwards(production, shifts_before_fault):
    clients, stack = production["clients"], production["stack"]
    before_config, before = serving_config(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        wait_until(
            lambda: (
                variant in serving_config(clients)[1]
                and states_entered(clients, execution).count("Shift more traffic to the candidate")
                >= shifts_before_fault
            )
        )
        set_fault(ENDPOINT, variant, error_rate=1.0)
        outcome = wait_for_execution(clients, execution)
        finished = time.time()
        time.sleep(2)

    assert outcome["status"] == "FAILED" and outcome["error"] == "CandidateRolledBack"
    assert serving_config(clients) == (before_config, before)
    assert set(load.log.served_by(since=finished)) == set(before)
    assert all(f.at < finished for f in load.log.failures)  # only the faulted candidate's answers failed
    runs = clients("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": f"RUN#{run}"}}
    )["Item"]
    assert runs["status"]["S"] == "ROLLED_BACK" and runs["alarm"]["S"] == "driftline-canary-candidate-5xx"
    assert clients("sagemaker").list_endpoint_configs(NameContains=run)["EndpointConfigs"] == []
    page = [m for m in read_mailbox(production["cloud"].ctx) if variant in (m.get("subject") or "")]
    assert page and "driftline-canary-candidate-5xx" in page[0]["message"]


def test_second_rollout_of_the_same_model_is_refused_while_one_runs(production):
    clients, stack = production["clients"], production["stack"]
    first = start_rollout(clients, stack, MODEL, candidate_run(), production["model_data_url"])
    wait_until(lambda: "Which rollout strategy?" in states_entered(clients, first))

    second = start_rollout(clients, stack, MODEL, candidate_run(), production["model_data_url"])

    assert wait_for_execution(clients, second)["error"] == "RolloutInProgress"
    assert wait_for_execution(clients, first)["status"] == "SUCCEEDED"


def test_candidate_whose_endpoint_update_fails_is_rolled_back(production):
    clients, stack = production["clients"], production["stack"]
    before = serving_config(clients)
    broken = production["model_data_url"].replace("model.tar.gz", "missing.tar.gz")

    outcome = wait_for_execution(clients, start_rollout(clients, stack, MODEL, candidate_run(), broken))

    assert outcome["error"] == "CandidateRolledBack"
    assert serving_config(clients) == before


# The guardrails tests run last: they switch the model's config to SageMaker's own blue/green canary.
# SageMaker's bake (WaitIntervalInSeconds) runs on the cloud clock like the alarm periods: 90 s at time
# scale 30 is 3 real seconds per step.
GUARDRAILS = CONFIG.replace(
    "deployment:\n  bake_seconds: 6\n", "deployment:\n  bake_seconds: 90\n  strategy: guardrails\n"
)


def test_guardrails_strategy_promotes_through_sagemakers_blue_green_canary(production):
    clients, stack = production["clients"], production["stack"]
    onboard_model(clients, stack, GUARDRAILS, MODEL)
    run = candidate_run()

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        outcome = wait_for_execution(clients, execution)

    assert outcome["status"] == "SUCCEEDED", outcome.get("cause")
    assert "Update with SageMaker's blue/green canary" in states_entered(clients, execution)
    assert serving_config(clients) == (f"{run}-config", [run.removeprefix(f"{MODEL}-")])
    assert load.log.failed == 0


def test_guardrails_strategy_reports_sagemakers_rollback_the_same_way(production):
    clients, stack = production["clients"], production["stack"]
    onboard_model(clients, stack, GUARDRAILS, MODEL)
    before = serving_config(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        wait_until(lambda: "Update with SageMaker's blue/green canary" in states_entered(clients, execution))
        wait_until(lambda: _fault_green(variant))
        outcome = wait_for_execution(clients, execution)
        finished = time.time()
        time.sleep(2)

    assert outcome["error"] == "CandidateRolledBack"
    assert serving_config(clients) == before
    assert variant not in load.log.served_by(since=finished)
    page = [m for m in read_mailbox(production["cloud"].ctx) if variant in (m.get("subject") or "")]
    assert page and "SageMaker blue/green canary" in page[0]["message"]


def _fault_green(variant: str) -> bool:
    try:
        set_fault(ENDPOINT, variant, error_rate=1.0)
    except ValueError:  # the green fleet is not there yet
        return False
    return True

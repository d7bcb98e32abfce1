"""shadow-canary and A/B on the local cloud: a candidate first answers a mirrored copy of real traffic; a faulty one
is stopped there and fails no customer request; a healthy one goes on through the canary to production. With
strategy ab, production and candidate serve side by side until a two-sided test promotes or keeps production."""

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
from driftline_local.quality_demo import LabelledTraffic
from driftline_local.sagemaker.endpoints import set_fault
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

from .test_canary_rollout import wait_until

pytestmark = pytest.mark.e2e

MODEL = "shadowed"
ENDPOINT = "driftline-shadowed"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS.replace(
        "deployment:\n  bake_seconds: 3\n",
        "deployment:\n  bake_seconds: 3\n  strategy: shadow-canary\n  shadow_seconds: 8\n  shadow_min_requests: 30\n",
    )
    + "training:\n  hyperparameters:\n    num_round: 30\nmonitoring:\n  enabled: false\n"
)
_candidates = iter(range(10, 60))


@pytest.fixture(scope="module")
def production(cloud):
    """A first model trained through the pipeline and serving alone (the first deployment)."""
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=41)])
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
    return f"{MODEL}-upload-20261201T0700{next(_candidates):02d}"


def described(clients: Clients) -> dict:
    return clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)


def serving(clients: Clients) -> tuple[str, list[str]]:
    endpoint = described(clients)
    return endpoint["EndpointConfigName"], [v["VariantName"] for v in endpoint["ProductionVariants"]]


def shadowing(clients: Clients, variant: str) -> bool:
    return [v["VariantName"] for v in described(clients).get("ShadowProductionVariants") or []] == [variant]


def traffic(production) -> Traffic:
    rows = generate_bank_marketing(50, seed=42).drop(columns=["y", "duration"])
    return Traffic(production["clients"], ENDPOINT, rows, per_second=15)


def run_item(production, run: str) -> dict:
    return production["clients"]("dynamodb").get_item(
        TableName=production["stack"].state_table,
        Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": f"RUN#{run}"}},
    )["Item"]


def test_faulty_candidate_is_stopped_by_its_shadow_test_with_no_failed_customer_request(production):
    clients, stack = production["clients"], production["stack"]
    before = serving(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    # Given steady customer traffic, when a candidate that fails every request is rolled out with shadow-canary
    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        wait_until(lambda: shadowing(clients, variant))
        set_fault(ENDPOINT, variant, error_rate=1.0)
        outcome = wait_for_execution(clients, execution)

    # Then the rollout stops at the shadow test; no traffic was ever shifted and no customer request failed
    assert outcome["status"] == "FAILED" and outcome["error"] == "CandidateFailedShadowTest", outcome.get("cause")
    entered = states_entered(clients, execution)
    assert "Judge the shadow test" in entered
    assert "Put the candidate beside the production model" not in entered
    assert "Shift more traffic to the candidate" not in entered
    assert load.log.sent > 0 and load.log.failed == 0
    assert set(load.log.served_by()) == set(before[1])
    assert serving(clients) == before and not described(clients).get("ShadowProductionVariants")
    # and the run records the shadow test; on-call was paged with its reason
    item = run_item(production, run)
    assert item["status"]["S"] == "ROLLED_BACK" and item["error"]["S"] == "ShadowTestFailed"
    shadow = item["shadow_test"]["M"]
    # (the copies mirrored before the test set the fault were answered; every later one failed)
    assert shadow["outcome"]["S"] == "failed" and 0 < int(shadow["errors"]["N"]) <= int(shadow["requests"]["N"])
    page = [m for m in read_mailbox(production["cloud"].ctx) if variant in (m.get("subject") or "")]
    assert page and "failed its shadow test" in page[0]["subject"] and "mirrored requests failed" in page[0]["message"]


def test_healthy_candidate_passes_its_shadow_test_then_the_canary(production):
    clients, stack = production["clients"], production["stack"]
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        outcome = wait_for_execution(clients, execution)

    assert outcome["status"] == "SUCCEEDED", outcome.get("cause")
    entered = states_entered(clients, execution)
    assert entered.index("Judge the shadow test") < entered.index("Put the candidate beside the production model")
    assert load.log.failed == 0
    assert serving(clients) == (f"{run}-config", [variant])
    shadow = run_item(production, run)["shadow_test"]["M"]
    assert shadow["outcome"]["S"] == "passed" and float(shadow["disagreement"]["N"]) == 0.0


# The A/B tests run last: they switch the model's config to strategy ab (error rate only: with a few seconds of
# traffic, CloudWatch's one-minute periods give too few latency samples to test).
AB = CONFIG.replace(
    "  strategy: shadow-canary\n  shadow_seconds: 8\n  shadow_min_requests: 30\n",
    "  strategy: ab\n  ab_seconds: 8\n  ab_min_requests: 20\n  ab_metrics: [error_rate]\n",
)


def test_ab_test_promotes_a_candidate_that_is_not_worse(production):
    clients, stack = production["clients"], production["stack"]
    onboard_model(clients, stack, AB, MODEL)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production) as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        outcome = wait_for_execution(clients, execution)

    assert outcome["status"] == "SUCCEEDED", outcome.get("cause")
    assert "Decide the A/B test" in states_entered(clients, execution)
    assert load.log.failed == 0 and load.log.served_by()[variant] > 0
    assert serving(clients) == (f"{run}-config", [variant])
    ab = run_item(production, run)["ab_test"]["M"]
    assert ab["decision"]["S"] == "promote"
    assert float(ab["tests"]["M"]["error_rate"]["M"]["p_value"]["N"]) == 1.0  # no error on either side
    page = [m for m in read_mailbox(production["cloud"].ctx) if "A/B test promotes" in (m.get("subject") or "")]
    assert page and variant in page[-1]["subject"]


def test_ab_test_keeps_production_over_a_candidate_that_fails_more(production):
    clients, stack = production["clients"], production["stack"]
    onboard_model(clients, stack, AB, MODEL)
    before = serving(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")

    with traffic(production):
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])
        wait_until(lambda: variant in serving(clients)[1])
        set_fault(ENDPOINT, variant, error_rate=0.5)
        outcome = wait_for_execution(clients, execution)

    assert outcome["status"] == "FAILED" and outcome["error"] == "ProductionKeptByABTest", outcome.get("cause")
    assert serving(clients) == before
    ab = run_item(production, run)["ab_test"]["M"]
    assert ab["decision"]["S"] == "keep"
    page = [m for m in read_mailbox(production["cloud"].ctx) if "A/B test kept production" in (m.get("subject") or "")]
    assert page and variant in page[-1]["subject"]


# strategy ab on model quality: callers send inference ids, the labels arrive after the A/B time; the judge runs the
# quality job over what both variants answered and tests accuracy two-sided.
AB_QUALITY = CONFIG.replace(
    "  strategy: shadow-canary\n  shadow_seconds: 8\n  shadow_min_requests: 30\n",
    "  strategy: ab\n  ab_seconds: 8\n  ab_min_requests: 20\n  ab_metrics: [quality]\n  ab_quality_wait_seconds: 120\n",
).replace("monitoring:\n  enabled: false\n", "monitoring:\n  enabled: false\n  quality:\n    min_labels: 30\n")


def ab_labels(answers: dict[str, tuple[str, str]], candidate: str) -> str:
    """The truth as the test states it: production's answers right, the candidate's wrong on 2 ids of 3."""
    rows = []
    for n, (inference_id, (variant, text)) in enumerate(sorted(answers.items())):
        predicted = "yes" if float(text.splitlines()[0]) >= 0.5 else "no"
        wrong = variant == candidate and n % 3 != 0
        rows.append(f"{inference_id},{({'yes': 'no', 'no': 'yes'}[predicted]) if wrong else predicted}\n")
    return "inference_id,y\n" + "".join(rows)


def with_trained_artifacts(production) -> None:
    """The runs started by hand above were promoted without a pipeline run's artifacts; the quality job scores
    against the production run's preprocessor (the classes) and evaluation: give it the trained run's."""
    clients, stack = production["clients"], production["stack"]
    bucket, _, model_key = production["model_data_url"].removeprefix("s3://").partition("/")
    trained = model_key.split("/model/")[0] + "/"
    serving_run = clients("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "PRODUCTION"}}
    )["Item"]["run_id"]["S"]
    s3 = clients("s3")
    for part in ("evaluation/", "preprocessor/"):
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=trained + part).get("Contents") or []:
            target = f"{MODEL}/runs/{serving_run}/{item['Key'][len(trained) :]}"
            if target != item["Key"]:
                s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": item["Key"]})


def test_ab_test_on_quality_keeps_production_when_labels_show_the_candidate_less_accurate(production):
    clients, stack = production["clients"], production["stack"]
    onboard_model(clients, stack, AB_QUALITY, MODEL)
    with_trained_artifacts(production)
    before = serving(clients)
    run = candidate_run()
    variant = run.removeprefix(f"{MODEL}-")
    rows = generate_bank_marketing(50, seed=42).drop(columns=["y", "duration"])

    # Given traffic with inference ids while production and the candidate serve side by side
    with LabelledTraffic(clients, ENDPOINT, rows, per_second=15, id_prefix="ab-") as load:
        execution = start_rollout(clients, stack, MODEL, run, production["model_data_url"])

        def answered_by_both() -> bool:
            served = [v for v, _ in list(load.answers.values())]
            return served.count(variant) >= 60 and served.count(before[1][0]) >= 60

        wait_until(answered_by_both)
        # When the labels arrive (after the A/B time): the candidate was wrong on two thirds of its predictions
        body = ab_labels(dict(load.answers), variant)
        clients("s3").put_object(Bucket=stack.data_bucket, Key=f"labels/{MODEL}/ab-truth.csv", Body=body.encode())
        outcome = wait_for_execution(clients, execution)

    # Then the A/B test keeps production on a significant accuracy difference, and says so with its p-value
    assert outcome["status"] == "FAILED" and outcome["error"] == "ProductionKeptByABTest", outcome.get("cause")
    assert load.failed == 0
    assert serving(clients) == before
    ab = run_item(production, run)["ab_test"]["M"]
    quality = ab["tests"]["M"]["quality"]["M"]
    assert quality["tested"]["BOOL"], quality.get("why")
    assert ab["decision"]["S"] == "keep" and quality["measure"]["S"] == "accuracy"
    assert float(quality["production"]["N"]) == 1.0 and float(quality["candidate"]["N"]) < 0.5
    assert int(quality["candidate_labelled"]["N"]) >= 30 and float(quality["p_value"]["N"]) < 0.05
    print(  # the figure the report quotes (pytest -rP)
        f"A/B on quality: production {quality['production']['N']} of {quality['production_labelled']['N']}, "
        f"candidate {quality['candidate']['N']} of {quality['candidate_labelled']['N']}, "
        f"z {quality['statistic']['N']}, p {quality['p_value']['N']}"
    )
    page = [m for m in read_mailbox(production["cloud"].ctx) if "A/B test kept production" in (m.get("subject") or "")]
    assert page and variant in page[-1]["subject"]
    assert "quality (accuracy): production 1, candidate" in page[-1]["message"]
    assert f"p-value {float(quality['p_value']['N']):.4g}" in page[-1]["message"]

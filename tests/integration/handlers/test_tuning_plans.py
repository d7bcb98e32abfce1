"""prepare_run plans a tuning job when the config tunes, warm-started from production's tuning job."""

from driftline import state
from driftline.tuning import hyperparameter_signature, tuning_job_name

from .conftest import invoke, put_config

CONFIG = """name: bank-marketing
problem_type: binary_classification
target: y
training:
  tuning:
    max_jobs: 4
    max_parallel_jobs: 2
    ranges:
      eta: {min: 0.05, max: 0.5}
"""
RUN = "bank-marketing-upload-20261201T050000"
PRODUCTION_RUN = "bank-marketing-upload-20261128T050000"


def plan(run: str = RUN) -> dict:
    return invoke("prepare_run", {"model": "bank-marketing", "run_id": run, "trigger": "upload"})


def test_a_model_that_tunes_gets_a_tuning_job_and_one_that_does_not_gets_none(stack):
    put_config(stack, CONFIG)
    tuned = plan()

    put_config(stack, CONFIG.split("training:")[0])
    plain = plan("bank-marketing-upload-20261202T050000")

    assert tuned["tuning"]["HyperParameterTuningJobName"] == tuning_job_name(RUN)  # 32 characters at most
    assert tuned["tuning"]["TrainingJobDefinition"]["EnableManagedSpotTraining"] is True
    assert "WarmStartConfig" not in tuned["tuning"]  # no production model yet
    assert plain["tuning"] is None and plain["train"]["TrainingJobName"]


def tuned_in_production(stack, config: str = CONFIG) -> None:
    """Production's run tuned with `config`, and recorded the hyperparameters it tuned (as start_tuning does)."""
    put_config(stack, config)
    request = plan(PRODUCTION_RUN)["tuning"]
    state.put_run(
        "bank-marketing",
        PRODUCTION_RUN,
        status="DEPLOYED",
        tuning={
            "job": f"{PRODUCTION_RUN}-hpo",
            "status": "Completed",
            "objective": "validation:auc",
            "hyperparameters": hyperparameter_signature(request),
        },
    )
    state.put_production("bank-marketing", run_id=PRODUCTION_RUN)


def test_a_retrain_warm_starts_from_the_production_models_tuning_job(stack):
    tuned_in_production(stack)
    put_config(stack, CONFIG)

    warm = plan()["tuning"]

    assert warm["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": f"{PRODUCTION_RUN}-hpo"}],
        "WarmStartType": "TransferLearning",
    }


def test_no_warm_start_when_the_config_turns_it_off_or_production_tuned_for_another_objective(stack):
    state.put_run(
        "bank-marketing",
        PRODUCTION_RUN,
        status="DEPLOYED",
        tuning={"job": f"{PRODUCTION_RUN}-hpo", "status": "Completed", "objective": "validation:logloss"},
    )
    state.put_production("bank-marketing", run_id=PRODUCTION_RUN)
    put_config(stack, CONFIG)
    other_objective = plan()["tuning"]

    state.update_run(
        "bank-marketing", PRODUCTION_RUN, tuning={"job": "x-hpo", "status": "Completed", "objective": "validation:auc"}
    )
    put_config(stack, CONFIG + "    warm_start: false\n")
    turned_off = plan("bank-marketing-upload-20261202T050000")["tuning"]

    assert "WarmStartConfig" not in other_objective
    assert "WarmStartConfig" not in turned_off


def test_a_retrain_that_tunes_one_more_hyperparameter_starts_cold(stack):
    # SageMaker refuses a warm start whose static plus tuned hyperparameters are more than its parent's:
    # gamma was neither static nor tuned in production's tuning job
    tuned_in_production(stack)
    put_config(stack, CONFIG + "      gamma: {min: 0.0, max: 5.0}\n")

    tuning = plan()["tuning"]

    assert "WarmStartConfig" not in tuning
    ranges = tuning["HyperParameterTuningJobConfig"]["ParameterRanges"].values()
    assert {r["Name"] for kind in ranges for r in kind} == {"eta", "gamma"}


def test_a_retrain_that_tunes_a_static_hyperparameter_still_warm_starts(stack):
    # max_depth was static in production's tuning job: static to tuned keeps the count, and is no change counted
    tuned_in_production(stack)
    put_config(stack, CONFIG + "      max_depth: {min: 2, max: 6}\n")

    assert "WarmStartConfig" in plan()["tuning"]

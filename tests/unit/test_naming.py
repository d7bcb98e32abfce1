from datetime import UTC, datetime

from driftline import naming


def test_run_id_is_a_pure_function_of_model_trigger_and_time():
    moment = datetime(2026, 11, 28, 5, 6, 7, tzinfo=UTC)

    assert naming.run_id("bank-marketing", "upload", moment) == "bank-marketing-upload-20261128T050607"
    assert naming.run_id("bank-marketing", "upload", moment) == naming.run_id("bank-marketing", "upload", moment)


def test_job_names_fit_sagemakers_limit_and_stay_distinct():
    run = naming.run_id("a-very-long-model-name-of-thirty", "drift", datetime(2026, 1, 1, tzinfo=UTC))

    names = {naming.job_name(run, step, attempt) for step in ("preprocess", "train", "evaluate") for attempt in (1, 2)}

    assert len(names) == 6
    assert all(len(n) <= naming.SAGEMAKER_NAME_LIMIT for n in names)
    assert all(n.replace("-", "").isalnum() for n in names)

"""The `batch:` section of model.yaml: defaults, SageMaker's transform limits, checked at upload."""

import pytest
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig

BASE = "name: churn\nproblem_type: binary_classification\ntarget: y\n"


def test_a_config_without_batch_gets_working_defaults():
    config = parse_model_config(BASE)

    assert config.batch.enabled is True
    assert (config.batch.max_payload_mb, config.batch.max_concurrent_transforms) == (6, 1)
    assert config.batch.id_column == "id"


def test_payload_times_concurrency_above_100_mb_is_refused_naming_the_fields():
    with pytest.raises(InvalidModelConfig, match="max_payload_mb x max_concurrent_transforms must be at most 100"):
        parse_model_config(BASE + "batch: {max_payload_mb: 20, max_concurrent_transforms: 6}\n")


def test_payload_above_sagemakers_100_mb_is_refused():
    with pytest.raises(InvalidModelConfig, match="batch.max_payload_mb"):
        parse_model_config(BASE + "batch: {max_payload_mb: 101}\n")


def test_a_graviton_batch_instance_is_refused_at_upload():
    # no Graviton type is a TransformInstanceType (botocore's model)
    with pytest.raises(InvalidModelConfig, match="batch.instance_type: 'ml.c7g.large' is not a SageMaker transform"):
        parse_model_config(BASE + "batch: {instance_type: ml.c7g.large}\n")


def test_an_unknown_batch_field_is_refused():
    with pytest.raises(InvalidModelConfig, match="batch.instance_size"):
        parse_model_config(BASE + "batch: {instance_size: large}\n")


def test_a_hosting_type_transform_jobs_do_not_run_on_is_refused_at_upload():
    # ml.t2.medium serves endpoints (ProductionVariantInstanceType) but is no TransformInstanceType:
    # CreateTransformJob would answer ValidationException at the first batch file
    with pytest.raises(InvalidModelConfig, match="batch.instance_type: 'ml.t2.medium' is not a SageMaker transform"):
        parse_model_config(BASE + "batch: {instance_type: ml.t2.medium}\n")

"""A shadow variant that cannot be hosted fails the deployment as a production variant does."""

from __future__ import annotations

import uuid

from .test_endpoint_shadow import _variant
from .test_sagemaker_endpoints import _in_service, _model


def test_shadow_variant_whose_model_cannot_load_fails_the_endpoint(aws, bucket, code):
    # Given a config whose production variant serves and whose shadow variant's model cannot load
    config = f"config-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[_variant("Production", _model(aws, bucket, code, factor=2))],
        ShadowProductionVariants=[_variant("Shadow", _model(aws, bucket, code, factor=3, broken=True))],
    )
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"

    # When the endpoint is created
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    # Then it fails, saying why
    described = _in_service(aws, endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert "cannot load a broken model" in described["FailureReason"]

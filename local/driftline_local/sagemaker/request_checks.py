"""SageMaker refuses a request whose members break its model's limits; moto does not. This module refuses them.

The service answers `ValidationException` for a value above a member's maximum length or value, outside its
enum, or not matching its pattern (`1 validation error detected: Value 'a (b)' at 'tags.1.member.value' failed
to satisfy constraint: Member must satisfy regular expression pattern: ...`); botocore's client checks none of
these (only required members, types and minimums), and moto stores whatever it gets. So, for the operations
Driftline's newer features send, each request body is checked against botocore's own service model
(`driftline_local.api_shapes`) before moto sees it, and refused as SageMaker refuses it.
"""

from __future__ import annotations

import json
from typing import Any

from driftline_local.api_shapes import problems

from ._aws import LOG

# Operations whose requests are checked (moto's response method names).
CHECKED = (
    "create_transform_job",
    "create_endpoint_config",
    "update_endpoint",
    "create_hyper_parameter_tuning_job",
)


def refusal(operation: str, body: dict[str, Any]) -> str | None:
    """SageMaker's ValidationException message for this request body, or None when the model accepts it
    (or the check itself failed: logged, and the request goes on as moto alone would take it)."""
    try:
        found = problems("sagemaker", operation, body)
    except Exception:
        LOG.exception("could not check %s against the SageMaker model", operation)
        return None
    if not found:
        return None
    count = len(found)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(found)


def install() -> None:
    """Wrap each checked SageMakerResponse method (after the other modules have wrapped theirs)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    for name in CHECKED:
        current = getattr(SageMakerResponse, name)
        inner = getattr(current, "_checked_inner", current)  # installed twice: wrap the same method once
        operation = "".join(part.capitalize() for part in name.split("_"))  # CreateHyperParameterTuningJob

        def checked(self: Any, _inner: Any = inner, _operation: str = operation) -> Any:
            try:
                body = json.loads(self.body or "{}")
            except (TypeError, ValueError):
                body = None
            if isinstance(body, dict):
                problem = refusal(_operation, body)
                if problem:
                    raise ValidationError(message=problem)
            return _inner(self)

        checked._checked_inner = inner  # type: ignore[attr-defined]
        checked.__wrapped__ = getattr(inner, "__wrapped__", inner)  # type: ignore[attr-defined]
        setattr(SageMakerResponse, name, checked)

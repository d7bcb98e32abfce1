"""Step Functions' schema check of optimized SageMaker integration parameters, at CreateStateMachine.

AWS validates the `Parameters` of an `arn:aws:states:::sagemaker:<api>[.sync]` task against the
fields the optimized integration supports (the Step Functions guide lists them per API; the list is
checked in as `sfn_sagemaker_parameters.json`) and refuses the definition:

    InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field
    "DataCaptureConfig" is not supported by Step Functions at /States/<state>/Parameters'

(message shape as reported in aws/aws-step-functions-data-science-sdk-python#200). moto 5.2.5 only
parses the definition. `aws-sdk:sagemaker:<api>` tasks accept the whole API and are not checked.
Only top-level field names are checked (`X` and `X.$` alike); AWS also checks static nested fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_OPTIMIZED_PREFIX = "arn:aws:states:::sagemaker:"


@functools.cache
def supported_parameters() -> dict[str, frozenset[str]]:
    """API action (lowerCamel, as in the resource ARN) -> the top-level fields the optimized integration accepts."""
    raw = json.loads((Path(__file__).with_name("sfn_sagemaker_parameters.json")).read_text())
    return {api: frozenset(fields) for api, fields in raw.items() if not api.startswith("_")}


def _tasks(states: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        here = f"{path}/{name}"
        yield here, state
        for index, branch in enumerate(state.get("Branches") or []):
            yield from _tasks(branch.get("States") or {}, f"{here}/Branches/{index}/States")
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _tasks(state[key].get("States") or {}, f"{here}/{key}/States")


def unsupported_fields(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(state path, field) for every optimized SageMaker task field the integration does not accept."""
    found = []
    for path, state in _tasks(definition.get("States") or {}, "/States"):
        resource = state.get("Resource")
        if state.get("Type") != "Task" or not isinstance(resource, str) or not resource.startswith(_OPTIMIZED_PREFIX):
            continue
        api = resource.removeprefix(_OPTIMIZED_PREFIX).split(".")[0]
        allowed = supported_parameters().get(api)
        if allowed is None:
            continue  # an unknown action: the interpreter refuses the resource itself
        for key in state.get("Parameters") or {}:
            field = key.removesuffix(".$")
            if field not in allowed:
                found.append((f"{path}/Parameters", field))
    return found


def schema_error(definition: str) -> str | None:
    """AWS's InvalidDefinition message for the first unsupported field, or None."""
    try:
        parsed = json.loads(definition)
    except ValueError:
        return None  # the ASL parser reports syntax
    if not isinstance(parsed, dict):
        return None
    found = unsupported_fields(parsed)
    if not found:
        return None
    path, field = found[0]
    return (
        f'Invalid State Machine Definition: \'SCHEMA_VALIDATION_FAILED: The field "{field}" is not supported by '
        f"Step Functions at {path}'"
    )


def install() -> None:
    """CreateStateMachine / UpdateStateMachine refuse unsupported optimized-integration fields."""
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.__dict__["_validate_definition"].__func__
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def validate(definition: str) -> None:
        original(definition)
        message = schema_error(definition)
        if message:
            # moto's parser InvalidDefinition class answers with an empty error code; AWS says InvalidDefinition
            raise AWSError(message, exception_type="InvalidDefinition")

    validate._driftline_local = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend._validate_definition = staticmethod(validate)  # type: ignore[method-assign,assignment]

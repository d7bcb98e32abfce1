"""Step Functions gaps in moto's ASL-interpreting backend.

- `StartExecution` without a `name`: AWS generates a UUID; moto 5.2.5's interpreter backend names
  the execution "None", so the second unnamed execution fails with `ExecutionAlreadyExists`.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from driftline_local.context import LocalCloudContext


def install(ctx: LocalCloudContext) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution._driftline_local = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]

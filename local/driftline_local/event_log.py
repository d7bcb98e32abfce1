"""What `driftline local up` prints: one readable line per event, and no stack trace for an expected outcome.

- `events`: the logger for one line per thing that happened in the cloud (a page sent, an alarm changing
  state). It logs at INFO and is enabled by itself, so the lines show under the CLI's default WARNING
  setup (a handler prints what reaches it; ancestors' levels do not filter propagated records).
- moto's Step Functions interpreter logs every failure that flows through a state machine at ERROR, with
  the state's whole repr: a Catch that rolls a candidate back, or a `Fail` state ending a run, is the
  machine doing its job, and the execution history has it (`driftline run RUN_ID`). Those records are
  dropped; anything else the interpreter reports (a real interpreter fault) still shows.
"""

from __future__ import annotations

import logging

events = logging.getLogger("driftline_local.events")

# moto 5.2.5 loggers and the messages of expected outcomes they log
_EXPECTED = {
    "moto.stepfunctions.parser.asl.component.eval_component": ("Exception=FailureEventException",),
    # a caught aws-sdk error (e.g. NoSuchKey) is named by its service's error, as on AWS; moto warns it had to guess
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk": (
        "No normalised service error name",
    ),
}


class _DropExpected(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def install() -> None:
    if events.level == logging.NOTSET:
        events.setLevel(logging.INFO)
    for name, prefixes in _EXPECTED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropExpected) for f in logger.filters):
            logger.addFilter(_DropExpected(prefixes))

"""PutMetricAlarm refuses the periods AWS refuses; moto 5.2.5 accepts any Period and any length.

CloudWatch API reference, PutMetricAlarm (`Period`): "Valid values are 10, 20, 30, and any multiple
of 60." ... "An alarm's total current evaluation period can be no longer than seven days, so Period
multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with a period of less
than one hour (3,600 seconds), the total evaluation period can't be longer than one day (86,400
seconds)." (`DatapointsToAlarm` is the M of an M-out-of-N alarm, at most EvaluationPeriods.)
Each refusal is `ValidationError`; the Period and DatapointsToAlarm messages are AWS's as reported
(awsdocs/aws-cloudformation-user-guide#777, hashicorp/terraform#24070); the evaluation-range
message is this module's wording.
"""

from __future__ import annotations

import functools
from typing import Any

SHORT_PERIODS = (10, 20, 30)
HOUR = 3600
ONE_DAY = 86_400
SEVEN_DAYS = 604_800


def alarm_error(period: int | None, evaluation_periods: int | None, datapoints_to_alarm: int | None) -> str | None:
    """Why AWS would refuse these alarm settings (None: it would not). Metric-math alarms have no Period."""
    if datapoints_to_alarm is not None and evaluation_periods is not None and datapoints_to_alarm > evaluation_periods:
        return "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
    if period is None:
        return None
    if period not in SHORT_PERIODS and (period <= 0 or period % 60):
        return "Period must be 10, 20, 30 or a multiple of 60"
    limit = ONE_DAY if period < HOUR else SEVEN_DAYS
    if evaluation_periods is not None and period * evaluation_periods > limit:
        return (
            f"The evaluation range (Period * EvaluationPeriods = {period * evaluation_periods} s) must not exceed "
            f"{limit} seconds for a Period {'under' if period < HOUR else 'of at least'} {HOUR} seconds"
        )
    return None


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def install() -> None:
    """Wrap moto's CloudWatchBackend.put_metric_alarm (as already patched by `alarms`)."""
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend

    current = CloudWatchBackend.put_metric_alarm
    if getattr(current, "_driftline_limits", False):
        return

    @functools.wraps(current)
    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        error = alarm_error(
            _int(kwargs.get("period")), _int(kwargs.get("evaluation_periods")), _int(kwargs.get("datapoints_to_alarm"))
        )
        if error:
            raise ValidationError(error)
        return current(self, *args, **kwargs)

    put_metric_alarm._driftline_limits = True  # type: ignore[attr-defined]
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]

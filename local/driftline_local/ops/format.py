"""How operating commands print: rich tables for people, one JSON document for scripts (`--json`)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {
    "SUCCEEDED": "green",
    "DEPLOYED": "green",
    "InService": "green",
    "OK": "green",
    "RUNNING": "cyan",
    "TRAINING": "cyan",
    "COLLECTING": "cyan",
    "REGISTERED": "cyan",
    "Updating": "yellow",
    "Creating": "yellow",
    "INSUFFICIENT_DATA": "dim",
    "REJECTED": "yellow",
    "ROLLED_BACK": "yellow",
    "FAILED": "red",
    "Failed": "red",
    "ALARM": "red",
    "OPEN": "red",
}


PIPE_WIDTH = 200  # columns when printing to a pipe or file (rich would assume 80 and cut run ids)


def console() -> Console:
    # What goes to a pipe or file is plain and wide: a person may grep it.
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, width=PIPE_WIDTH, no_color=True)


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True, default=str))


def styled(value: Any) -> str:
    text = "-" if value is None else str(value)
    style = STATUS_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style else escape(text)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def table(*columns: str, title: str | None = None) -> Table:
    shown = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for column in columns:
        shown.add_column(column)
    return shown


def when(value: Any) -> datetime | None:
    """A time as the state table or AWS gives it (epoch seconds, ISO text or datetime), in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ago(value: Any, now: datetime | None = None) -> str:
    moment = when(value)
    if moment is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{duration(max(0.0, seconds))} ago"


def stamp(value: Any) -> str:
    moment = when(value)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)

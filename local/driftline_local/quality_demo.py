"""Model quality with delayed labels on the local cloud: callers send inference ids, the truth arrives later.

For `make demo` (local/driftline_local/demo.py) and the e2e test: `quality_story(clients, stack, ctx, model,
frame)` serves `frame`'s rows (without the target) with InferenceId `q-<n>` from a background thread, drops
`labels/<model>/truth.csv` saying which answers were right (with `wrong_labels=True`, the opposite of the
truth: a model that looked good on its test set turns out wrong on real traffic), waits for the model's
`driftline-<model>-quality` page and prints what it says: the live and evaluation metrics, how many
predictions were labelled, and the retraining run it started. The model needs a production endpoint and a
monitoring schedule with `monitoring.quality` (the e2e config: rate(5 minutes) at time scale 30).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftline_local.context import LocalCloudContext
from driftline_local.loop import Clients, Stack
from driftline_local.sns import wait_for_mail

MAX_REQUESTS = 20_000


class LabelledTraffic:
    """Requests with InferenceId `<id_prefix><n>` in a background thread: row n % len(rows), about `per_second` a
    second; `answers` keeps which variant answered each id, and what."""

    def __init__(
        self, clients: Clients, endpoint: str, rows: pd.DataFrame, per_second: float = 15.0, id_prefix: str = "q-"
    ) -> None:
        self.runtime = clients("sagemaker-runtime")
        self.id_prefix = id_prefix
        self.answers: dict[str, tuple[str, str]] = {}  # inference id -> (variant that answered, its CSV answer)
        self.endpoint = endpoint
        self.bodies = [rows.iloc[[i]].to_csv(header=False, index=False).encode() for i in range(len(rows))]
        self.interval = 1.0 / per_second
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"labelled-traffic-{endpoint}", daemon=True)

    def __enter__(self) -> LabelledTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < MAX_REQUESTS:
            started = time.monotonic()
            n = self.sent
            self.sent += 1
            try:
                answer = self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    ContentType="text/csv",
                    Accept="text/csv",
                    Body=self.bodies[n % len(self.bodies)],
                    InferenceId=f"{self.id_prefix}{n}",
                )
                text = answer["Body"].read().decode("utf-8", "replace").strip()
                self.answers[f"{self.id_prefix}{n}"] = (str(answer.get("InvokedProductionVariant")), text)
            except Exception:  # counted, never raised: the caller judges
                self.failed += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


def labels_csv(truth: pd.Series, target: str, wrong: bool, count: int = MAX_REQUESTS) -> str:
    """`inference_id,<target>` for ids q-0 .. q-<count-1> (row n % len(truth)); `wrong`: a binary target swapped."""
    values = list(truth)
    if wrong:
        classes = sorted(set(values))
        if len(classes) != 2:
            raise ValueError("wrong labels are made by swapping the two classes of a binary target")
        values = [classes[1] if v == classes[0] else classes[0] for v in values]
    return f"inference_id,{target}\n" + "".join(f"q-{n},{values[n % len(values)]}\n" for n in range(count))


@dataclass
class QualityStory:
    page: dict[str, Any]
    requests: int
    failed: int
    seconds: float


def quality_story(
    clients: Clients,
    stack: Stack,
    ctx: LocalCloudContext,
    model: str,
    frame: pd.DataFrame,
    target: str = "y",
    drop_columns: tuple[str, ...] = ("duration",),
    wrong_labels: bool = True,
    say: Callable[[str], None] = print,
    timeout: float = 900,
) -> QualityStory:
    """Serve `frame` with inference ids, drop its (wrong) labels, wait for the quality alarm's page and print it."""
    started = time.monotonic()
    features = frame.drop(columns=[target, *[c for c in drop_columns if c in frame.columns]])
    labels = labels_csv(frame[target], target, wrong_labels)
    say(f"== model quality: serving {model} with InferenceId q-<n>; the labels arrive afterwards")
    with LabelledTraffic(clients, f"driftline-{model}", features) as traffic:
        key = f"labels/{model}/truth.csv"
        clients("s3").put_object(Bucket=stack.data_bucket, Key=key, Body=labels.encode())
        note = " (every label the opposite of the truth)" if wrong_labels else ""
        say(f"dropped s3://{stack.data_bucket}/{key}{note}")
        page = wait_for_mail(ctx, f"{model}: quality alarm", timeout=timeout)
    say(f"page: {page.get('subject')}")
    for line in (page.get("message") or "").splitlines():
        if line.startswith("Runbook"):  # the console links follow
            break
        say(f"  {line}")
    say(f"served {traffic.sent} requests with ids, {traffic.failed} failed")
    return QualityStory(page, traffic.sent, traffic.failed, time.monotonic() - started)

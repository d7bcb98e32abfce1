"""Steps of TrainingPipeline that need more than an optimized integration: planning the jobs."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.errors import UnknownModel
from driftline.gate import judge, read_evaluation
from driftline.observability import logger
from driftline.sagemaker_requests import (
    RunContext,
    evaluation_request,
    preprocess_request,
    statistics_request,
    training_request,
)
from driftline.settings import settings


class RunRef(BaseModel):
    model: str
    run_id: str
    trigger: str = "upload"


def run_context(model: str, run: str) -> RunContext:
    config = state.load_config(model)
    if config is None:
        raise UnknownModel(f"model '{model}' has no valid config (models/{model}/model.yaml)")
    env = settings()
    return RunContext(
        config=config,
        run_id=run,
        data_bucket=env.data_bucket,
        artifact_bucket=env.artifact_bucket,
        role_arn=env.sagemaker_role_arn,
        training_image=env.training_image_uri,
        processing_image=env.processing_image_uri,
        kms_key_arn=env.kms_key_arn,
        subnet_ids=_listed(env.job_subnet_ids),
        security_group_ids=_listed(env.job_security_group_ids),
    )


def _listed(joined: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in joined.split(",") if part.strip())


def prepare_run(ref: RunRef, now: float | None = None) -> dict[str, Any]:
    """Wait out the quiet window, then freeze the config and plan the preprocessing and training jobs.

    While uploads keep arriving the answer is `{"settled": false, "wait_seconds": n}` and the state
    machine waits again; a burst of uploads therefore becomes one run over all of them.
    """
    now = time.time() if now is None else now
    ctx = run_context(ref.model, ref.run_id)
    open_run = state.open_run(ref.model)
    if open_run and open_run["run_id"] == ref.run_id:
        quiet_for = now - float(open_run["last_upload_at"])
        settle = ctx.config.timings.settle_seconds
        if quiet_for < settle:
            return {"settled": False, "wait_seconds": max(1, int(settle - quiet_for + 0.999))}
        state.close_run(ref.model, ref.run_id)
    bucket, key = ctx.config_uri.removeprefix("s3://").split("/", 1)
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=ctx.config.model_dump_json(indent=2).encode(), ContentType="application/json"
    )
    manifest = _newest_data_manifest(ctx, now) if ref.trigger in naming.ALARM_RETRAIN_TRIGGERS else None
    if state.get_run(ref.model, ref.run_id) is None:
        state.put_run(ref.model, ref.run_id, trigger=ref.trigger, status="RUNNING", data_cutoff=int(now))
    else:
        state.update_run(ref.model, ref.run_id, status="RUNNING", data_cutoff=int(now))
    logger.info("run planned", extra={"model": ref.model, "run_id": ref.run_id, "newest_data_only": bool(manifest)})
    return {
        "settled": True,
        "config_uri": ctx.config_uri,
        # processing.instance_count > 1: a sharded statistics job runs before preprocess (--stage encode); else null
        "statistics": statistics_request(ctx, manifest),
        "preprocess": preprocess_request(ctx, manifest),
        "train": training_request(ctx),
        # training.tuning: the run tunes (a HyperParameterTuningJob) instead of training once; null otherwise
        "tuning": _tuning_request(ctx) if ctx.config.training.tuning else None,
    }


def _tuning_request(ctx: RunContext) -> dict[str, Any]:
    # Only a model that tunes loads the tuning module (and the training-event models it imports): the other
    # pipeline steps and untuned runs do not build them at init.
    from driftline.tuning import tuning_request, warm_start_parent

    return tuning_request(ctx, warm_start_parent(ctx))


def _newest_data_manifest(ctx: RunContext, now: float) -> str | None:
    """For a drift retrain: a manifest of the uploads newer than the production model's data, if any."""
    if ctx.config.monitoring.retrain_data != "newest":
        return None
    production = state.get_production(ctx.model)
    production_run = state.get_run(ctx.model, production["run_id"]) if production else None
    cutoff = (production_run or {}).get("data_cutoff")
    if cutoff is None:
        return None
    s3 = aws.client("s3")
    prefix = f"incoming/{ctx.model}/"
    newer = [
        obj["Key"][len(prefix) :]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ctx.data_bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["LastModified"].timestamp() > float(cutoff) and obj["LastModified"].timestamp() <= now
    ]
    if not newer:
        return None
    manifest = [{"prefix": f"s3://{ctx.data_bucket}/{prefix}"}, *sorted(newer)]
    bucket, key = ctx.artifacts("data-manifest.json").removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode(), ContentType="application/json")
    return ctx.artifacts("data-manifest.json")


def prepare_evaluation(ref: RunRef, candidate_model_uri: str) -> dict[str, Any]:
    """Plan the evaluation job: the candidate, and the production model on the same test set."""
    ctx = run_context(ref.model, ref.run_id)
    production = state.get_production(ref.model)
    production_uri = production.get("model_data_url") if production else None
    return {
        "request": evaluation_request(ctx, candidate_model_uri, production_uri),
        "evaluation_uri": ctx.artifacts("evaluation/evaluation.json"),
        "production_model": production_uri,
    }


def check_quality_gate(ref: RunRef, evaluation_uri: str) -> dict[str, Any]:
    """Judge the candidate; the state machine routes on `passed`."""
    config = run_context(ref.model, ref.run_id).config
    evaluation = read_evaluation(evaluation_uri)
    verdict = judge(evaluation, config.gate_metric, config.gate)
    state.update_run(ref.model, ref.run_id, gate=verdict.model_dump(), metrics=evaluation.get("metrics"))
    logger.info("quality gate", extra={"passed": verdict.passed, "reasons": verdict.reasons})
    return verdict.model_dump() | {"summary": verdict.summary, "metrics": evaluation.get("metrics", {})}

"""Publish the SageMaker job code to the ArtifactBucket (the `publish-jobs` contract).

- ``code/jobs/sourcedir.tar.gz``: every file of `jobs/` at the archive root (script mode's
  `sagemaker_submit_directory` / `SAGEMAKER_SUBMIT_DIRECTORY`);
- ``code/jobs/src/<file>``: the same files loose, mounted by processing jobs at
  `/opt/ml/processing/input/code/`.

Used by `driftline publish-jobs` (AWS) and by `driftline local up`.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

CODE_PREFIX = "code/jobs"


def _job_files(jobs_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in jobs_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def build_sourcedir(jobs_dir: Path) -> bytes:
    """A gzipped tar of `jobs_dir` with its files at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in _job_files(jobs_dir):
            archive.add(path, arcname=path.relative_to(jobs_dir).as_posix())
    return buffer.getvalue()


def publish_jobs(s3_client: Any, bucket: str, jobs_dir: Path | str) -> list[str]:
    """Upload the job code to `bucket`; returns the S3 URIs written."""
    jobs_dir = Path(jobs_dir)
    if not jobs_dir.is_dir():
        raise FileNotFoundError(f"no jobs directory at {jobs_dir}")
    written = []
    key = f"{CODE_PREFIX}/sourcedir.tar.gz"
    s3_client.put_object(Bucket=bucket, Key=key, Body=build_sourcedir(jobs_dir))
    written.append(f"s3://{bucket}/{key}")
    for path in _job_files(jobs_dir):
        key = f"{CODE_PREFIX}/src/{path.relative_to(jobs_dir).as_posix()}"
        s3_client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        written.append(f"s3://{bucket}/{key}")
    return written

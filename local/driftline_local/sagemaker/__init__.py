"""SageMaker execution for the local cloud: jobs, `.sync` integrations and endpoints.

`install(ctx)` is called once the moto server runs in this process (MOTO_PORT set). It patches moto
so that training and processing jobs really run (`jobs`), the Step Functions interpreter supports the
optimized SageMaker integrations (`sfn_integration`) and endpoints really serve models (`endpoints`).

Python API for the rest of the local cloud and for tests:
- `interrupt_training_job(name, notice_seconds, outcome)`: spot interruption of a running job;
- `flush_data_capture()`: write buffered endpoint data capture to S3 now;
- `jobs.runner().wait(kind, name, timeout)`: block until a job has ended.
"""

from driftline_local.context import LocalCloudContext

from . import endpoints, jobs, sfn_integration
from .endpoints import flush_data_capture
from .jobs import interrupt_training_job

__all__ = ["flush_data_capture", "install", "interrupt_training_job"]


def install(ctx: LocalCloudContext) -> None:
    """Patch moto's SageMaker so jobs and endpoints really run."""
    (ctx.workdir / "jobs").mkdir(parents=True, exist_ok=True)
    jobs.install(ctx)
    sfn_integration.install(ctx)
    endpoints.install(ctx)

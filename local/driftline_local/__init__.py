"""The local cloud: moto's server plus the execution moto lacks, and the `driftline` CLI."""

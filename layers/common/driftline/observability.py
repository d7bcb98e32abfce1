"""One logger and one metrics emitter for every handler (powertools, structured JSON / EMF)."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="driftline")
metrics = Metrics(namespace="Driftline", service="driftline")

"""Driftline's domain: config, naming, validation, request builders, gate, registry and pages.

Handlers in ``functions/`` call one function of this package each; AWS access goes through the
small adapters in ``driftline.aws``.
"""

"""Operating commands of the `driftline` CLI: see (status, runs, run, quarantine), follow (watch), act, report, init.

Each module here that adds subcommands exposes `register(subparsers)`; cli.py lists it in `COMMAND_MODULES`.
"""

"""The `driftline` CLI against local clouds of its own.

Each module here starts its own LocalCloud with the real stack deployed. The local cloud patches moto
process-wide, so these modules must not share an interpreter with tests/integration/local's package-wide
cloud (starting and stopping a second cloud there uninstalled the first one's Lambda runtime): this folder
is a suite of its own in the Makefile.
"""

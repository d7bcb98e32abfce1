"""Template tests read template.yaml, the ASL files and events/ as text; the CLIs run as subprocesses."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as {'Ref': ...} / {'Fn::Sub': ...}."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="session")
def template() -> dict:
    return yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506 (safe loader subclass)


def tool(name: str) -> str:
    """A CLI from the project's environments (`make` installs both)."""
    for folder in (REPO / ".venv" / "bin", REPO / ".venv" / "tools" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; run `make test` (it installs .venv/ and .venv/tools/)")
    return found


@pytest.fixture(scope="session")
def tool_env() -> dict:
    return os.environ | {"SAM_CLI_TELEMETRY": "0"}

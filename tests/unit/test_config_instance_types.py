"""The checked-in instance-type allow-list matches the installed botocore's SageMaker model.

Regenerate after a botocore upgrade: `.venv/bin/python tests/unit/test_config_instance_types.py`.
"""

from pathlib import Path

import botocore
import botocore.session

LIST = Path(__file__).resolve().parents[2] / "layers" / "common" / "driftline" / "instance_types.py"
SHAPES = {
    "TRAINING": "TrainingInstanceType",
    "PROCESSING": "ProcessingInstanceType",
    "HOSTING": "ProductionVariantInstanceType",
    "TRANSFORM": "TransformInstanceType",
}


def render() -> str:
    model = botocore.session.get_session().get_service_model("sagemaker")
    lines = [
        '"""SageMaker instance types per job kind, generated from botocore\'s SageMaker service model.',
        "",
        f"Source: botocore {botocore.__version__}, botocore/data/sagemaker/2017-07-24/service-2.json, the enums",
        "TrainingInstanceType, ProcessingInstanceType, ProductionVariantInstanceType and TransformInstanceType.",
        "Checked in so that the config handler never loads botocore's service JSON at run time;",
        "tests/unit/test_config_instance_types.py keeps it in sync",
        "(regenerate: .venv/bin/python tests/unit/test_config_instance_types.py).",
        '"""',
        "",
    ]
    for name, shape in SHAPES.items():
        lines += [f"{name} = frozenset(", "    {"]
        lines += [f'        "{value}",' for value in sorted(model.shape_for(shape).enum)]
        lines += ["    }", ")", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def test_allow_list_matches_the_installed_botocore():
    assert LIST.read_text() == render(), "instance_types.py is stale: run this file to regenerate it"


if __name__ == "__main__":
    LIST.write_text(render())
    print(f"wrote {LIST}")

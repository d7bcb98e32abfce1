"""`make validate`'s AWS check: Step Functions' own validator on each state machine, substituted as deployed.

`ValidateStateMachineDefinition` (the API behind `aws stepfunctions validate-state-machine-definition`)
checks what statelint cannot: the optimized integrations' parameter schemas, among them. It needs
credentials but creates nothing; without credentials the check is skipped and says so.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_SUBSTITUTION = re.compile(r"\$\{(\w+)\}")
_ACCOUNT = "123456789012"


def _placeholder(name: str, region: str) -> str:
    """A well-formed ARN for a `DefinitionSubstitutions` key (the validator checks shapes, not existence)."""
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:{region}:{_ACCOUNT}:function:driftline-{name.removesuffix('FunctionArn')}"
    if name.endswith("RoleArn"):
        return f"arn:aws:iam::{_ACCOUNT}:role/driftline-{name.removesuffix('RoleArn')}"
    return f"arn:aws:states:{region}:{_ACCOUNT}:stateMachine:driftline-{name.removesuffix('Arn')}"


def substituted(path: Path, region: str) -> str:
    return _SUBSTITUTION.sub(lambda match: _placeholder(match.group(1), region), path.read_text())


def main(region: str = "us-east-1") -> int:
    import boto3

    if boto3.Session().get_credentials() is None:
        print("validate-state-machine-definition: skipped (no AWS credentials)")
        return 0
    sfn = boto3.client("stepfunctions", region_name=region)
    failed = False
    for path in sorted((REPO_ROOT / "statemachines").glob("*.asl.json")):
        result = sfn.validate_state_machine_definition(definition=substituted(path, region), type="STANDARD")
        problems = [d for d in result.get("diagnostics", []) if d.get("severity") == "ERROR"]
        print(f"{path.name}: {result['result']}" + "".join(f"\n  {json.dumps(d)}" for d in problems))
        failed |= result["result"] != "OK"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))

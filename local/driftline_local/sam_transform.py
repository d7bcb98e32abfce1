"""SAM -> CloudFormation with aws-sam-translator, offline; run by `stack.transform` in a short-lived child.

The translator and what it imports (about 240 modules: its schema models, jsonschema) cost the local cloud's
server about 14 MiB that stayed resident for the life of the cloud after one deployment; a child process
takes that import and returns the CloudFormation template as JSON (a SAM template is JSON data).

    python -m driftline_local.sam_transform < {"sam": ..., "parameters": ..., "region": ...}
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any


def translate(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """SAM -> CloudFormation with aws-sam-translator, in this process, without calling AWS."""
    import boto3
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    policies = get_bundled_managed_policy_map("aws") or {}
    return dict(
        translator.translate(
            copy.deepcopy(sam), parameter_values=dict(parameters), get_managed_policy_map=lambda: policies
        )
    )


def main() -> None:
    request = json.load(sys.stdin)
    json.dump(translate(request["sam"], request["parameters"], request["region"]), sys.stdout)


if __name__ == "__main__":
    main()

"""One production variant's model server: loads the user's inference script and answers requests.

Run as `python _inference_worker.py <code_dir> <model_dir> <program>` (by `model_server.py`, with the
interpreter of the model image's environment); stdlib only, so it never imports the local cloud.
Protocol on stdin/stdout, one request at a time: a JSON header line, then exactly `length` body bytes.
The first message out is `{"ready": true}` (or `{"ready": false, "error": ...}` when the script cannot
be served or model_fn fails). A request header carries the request's `headers` (Content-Type, Accept, as
SageMaker forwards them); the answer carries the container's `status` and `content_type`. The user's
prints and tracebacks go to stderr (the endpoint's log).

What the answer is follows the XGBoost container's serving stack: see `_serving_contract.py`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO

import _serving_contract as contract  # the file beside this one: the script's own folder is on sys.path


def _send(out: BinaryIO, header: dict[str, Any], body: bytes = b"") -> None:
    header["length"] = len(body)
    out.write(json.dumps(header).encode() + b"\n" + body)
    out.flush()


def main() -> int:
    code_dir, model_dir, program = sys.argv[1:4]
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the user's code prints lands in the log, not in the protocol
    protocol_in = sys.stdin.buffer
    sys.path.insert(0, code_dir)
    try:
        spec = importlib.util.spec_from_file_location(Path(program).stem, Path(code_dir) / program)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {program} from {code_dir}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        model_fn, transform = contract.transform_of(module)
        model = model_fn(model_dir)
    except BaseException as exc:  # noqa: BLE001 - report any load failure to the host
        traceback.print_exc()
        _send(protocol_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send(protocol_out, {"ready": True})
    while True:
        line = protocol_in.readline()
        if not line:
            return 0
        header = json.loads(line)
        body = protocol_in.read(header["length"])
        status, content_type, answer = contract.invoke(transform, model, body, header.get("headers") or {})
        _send(protocol_out, {"status": status, "content_type": content_type}, answer)


if __name__ == "__main__":
    sys.exit(main())

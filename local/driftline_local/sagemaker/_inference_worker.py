"""One production variant's model server: loads the user's inference script and answers requests.

Run as `python _inference_worker.py <code_dir> <model_dir> <program>` by `endpoints.py`; stdlib only,
so it never imports the local cloud. Protocol on stdin/stdout, one request at a time: a JSON header
line, then exactly `length` body bytes. The first message out is `{"ready": true}` (or
`{"ready": false, "error": ...}` when model_fn fails). The user's prints go to stderr (the log).

Handlers follow the SageMaker inference toolkit: `model_fn(model_dir)`, `input_fn(body, content_type)`
with the body as bytes, `predict_fn(data, model)`, `output_fn(prediction, accept)`, which may return
bytes, str or (body, content_type). Missing handlers fall back to JSON in / model.predict / JSON out.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO


def _send(out: BinaryIO, header: dict[str, Any], body: bytes = b"") -> None:
    header["length"] = len(body)
    out.write(json.dumps(header).encode() + b"\n" + body)
    out.flush()


def _default_input_fn(body: bytes, content_type: str) -> Any:
    if content_type and "json" in content_type:
        return json.loads(body)
    return body.decode("utf-8")


def _default_predict_fn(data: Any, model: Any) -> Any:
    return model(data) if callable(model) else model.predict(data)


def _default_output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    return json.dumps(prediction, default=str), "application/json"


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
        model = module.model_fn(model_dir) if hasattr(module, "model_fn") else None
    except BaseException as exc:  # noqa: BLE001 - report any load failure to the host
        traceback.print_exc()
        _send(protocol_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    input_fn = getattr(module, "input_fn", _default_input_fn)
    predict_fn = getattr(module, "predict_fn", _default_predict_fn)
    output_fn = getattr(module, "output_fn", _default_output_fn)
    _send(protocol_out, {"ready": True})
    while True:
        line = protocol_in.readline()
        if not line:
            return 0
        header = json.loads(line)
        body = protocol_in.read(header["length"])
        accept = header["accept"]
        try:
            result = output_fn(predict_fn(input_fn(body, header["content_type"]), model), accept)
            content_type = accept
            if isinstance(result, tuple):
                result, content_type = result
            if isinstance(result, str):
                result = result.encode("utf-8")
            _send(protocol_out, {"ok": True, "content_type": content_type}, bytes(result))
        except Exception as exc:  # noqa: BLE001 - every handler error becomes a ModelError
            traceback.print_exc()
            status = getattr(exc, "status_code", None) or 500
            _send(protocol_out, {"ok": False, "status": int(status), "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(main())

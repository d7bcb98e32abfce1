"""A model server's process, started as the XGBoost image's serving stack starts: its own imports first.

The container's gunicorn workers load `sagemaker_xgboost_container.serving` (the app `serving:main`) before
anything else; serving.py imports `sagemaker_xgboost_container.encoder`, whose module body runs
`import numpy as np` and `import xgboost as xgb`; the image pins scikit-learn 1.8.0, so that import loads
scikit-learn too (xgboost/compat.py imports sklearn.base whenever it is installed). Sources:
aws/sagemaker-xgboost-container `src/sagemaker_xgboost_container/serving.py`, `encoder.py`, `requirements.txt`
(commit cb8df91). The real endpoint pays that import while it starts, before its first ping; so does the
local one, here, and the inference script then finds xgboost (and scikit-learn) already imported, as it does
in the container. Requests never pay it, here or there.

Run as `python _serving_stack.py <path of _inference_worker.py> <code_dir> <model_dir> <program>` (by
`model_server.py`, with the image environment's interpreter); stdlib only.
"""

from __future__ import annotations

import importlib
import importlib.util
import runpy
import sys

# What the serving stack imports before the user's module; each only where the image's environment has it
# (the XGBoost image has both; an image without xgboost serves with a different stack, not modelled here).
SERVING_STACK_IMPORTS = ("numpy", "xgboost")


def import_serving_stack() -> list[str]:
    """Import what the image's serving stack imports at start; the names imported."""
    imported = []
    for name in SERVING_STACK_IMPORTS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            imported.append(name)
    return imported


if __name__ == "__main__":
    import_serving_stack()
    worker, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_path(worker, run_name="__main__")

"""What the job scripts share: cleaning raw values, encoding rows with preprocessor.json, loading models.

The scripts run in SageMaker's scikit-learn and XGBoost containers (Python 3.9+, pandas 1.5-3.x) and
locally. This module imports only the standard library, numpy and pandas at import time; xgboost is
imported where a model is loaded, through `import_xgboost` (without the scikit-learn it would drag in).
It never imports the `driftline` package.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)

PREPROCESSOR_FILE = "preprocessor.json"
MODEL_FILE = "xgboost-model.json"
PREPROCESSOR_FORMAT_VERSION = 1

# Compared after stripping and lowercasing; the same set the upload checks use (driftline.datasets).
MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "?"})


class JobInputError(ValueError):
    """An input of a job cannot be used; the message says what is wrong and where."""


EXIT_MESSAGE_BYTES = 1024  # DescribeProcessingJob.ExitMessage keeps the first 1 KB of the file


def job_failed(message: str, exit_message: str | None, log: logging.Logger) -> int:
    """Log why the job cannot go on, write it where SageMaker reads it, and return the exit code.

    A processing job's FailureReason is SageMaker's generic "AlgorithmError: See job logs ..."; the
    container's own words reach DescribeProcessingJob.ExitMessage through /opt/ml/output/message (AWS,
    "Save and Access Metadata Information About Your Processing Job"). The request passes that path as
    `--exit-message`, so every path a job writes is visible in its request.
    """
    log.error("%s", message)
    if exit_message:
        path = Path(exit_message)
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = message.encode("utf-8")[:EXIT_MESSAGE_BYTES]
        path.write_text(kept.decode("utf-8", "ignore"), encoding="utf-8")
    return 1


def setup_logging() -> logging.Logger:
    """Log to stdout (CloudWatch keeps it) with a timestamp; one logger for all job scripts."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    return logging.getLogger("driftline.jobs")


def clean_value(value: Any) -> str | None:
    """A raw cell as a stripped string, or None when missing. Numbers become their shortest text."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value).strip()
    return None if text.lower() in MISSING_TOKENS else text


def clean_column(values: Any) -> list[str | None]:
    return [clean_value(v) for v in list(values)]


def to_numbers(values: list[str | None]) -> np.ndarray:
    """Parse cleaned values as floats; anything unparsable or infinite becomes NaN."""
    numbers = np.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), dtype=float)
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers


def encoded_names(features: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for feature in features:
        if feature["type"] == "numeric":
            names.append(feature["name"])
        else:
            names.extend(f"{feature['name']}={category}" for category in feature["categories"])
    return names


def encode_frame(raw: pd.DataFrame, preprocessor: dict[str, Any]) -> np.ndarray:
    """Encode raw feature columns (any order, absent column = all missing) into the model's matrix.

    Numeric: parsed, missing or unparsable values imputed. Categorical: one-hot in the fixed category
    order; missing and unseen categories encode as all zeros.
    """
    rows = len(raw)
    blocks: list[np.ndarray] = []
    for feature in preprocessor["features"]:
        name = feature["name"]
        values: list[str | None] = clean_column(raw[name]) if name in raw.columns else [None] * rows
        if feature["type"] == "numeric":
            numbers = to_numbers(values)
            numbers[np.isnan(numbers)] = float(feature["impute_value"])
            blocks.append(numbers.reshape(-1, 1))
        else:
            categories = feature["categories"]
            position = {category: i for i, category in enumerate(categories)}
            codes = np.array([position.get(v, -1) if v is not None else -1 for v in values], dtype=int)
            onehot = np.zeros((rows, len(categories)))
            known = codes >= 0
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(onehot)
    if not blocks:
        return np.zeros((rows, 0))
    return np.hstack(blocks)


def decode_matrix(matrix: np.ndarray, preprocessor: dict[str, Any]) -> pd.DataFrame:
    """Raw feature values back from an encoded matrix (imputed numbers stay imputed)."""
    columns: dict[str, list[Any]] = {}
    position = 0
    for feature in preprocessor["features"]:
        if feature["type"] == "numeric":
            columns[feature["name"]] = list(matrix[:, position])
            position += 1
        else:
            categories = feature["categories"]
            block = matrix[:, position : position + len(categories)]
            position += len(categories)
            if not categories:
                columns[feature["name"]] = [None] * len(matrix)
                continue
            hot = block.argmax(axis=1)
            present = block.max(axis=1) > 0.5
            columns[feature["name"]] = [categories[h] if p else None for h, p in zip(hot, present)]  # noqa: B905
    return pd.DataFrame(columns, dtype=object)


def csv_files(path: Path) -> list[Path]:
    """The CSV file itself, or every *.csv below a directory (sorted, hidden files skipped)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise JobInputError(f"{path} does not exist; expected a CSV file or a directory of CSV files")
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() == ".csv"
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def read_label_first(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read encoded CSV (no header, label first) from a file or channel directory: (labels, features)."""
    frames = []
    for file in csv_files(path):
        try:
            frames.append(pd.read_csv(file, header=None, dtype=float))
        except pd.errors.EmptyDataError:
            continue
    if not frames:
        return np.zeros(0), np.zeros((0, 0))
    data = pd.concat(frames, ignore_index=True).to_numpy(dtype=float)
    return data[:, 0], data[:, 1:]


def find_file(root: Path, names: list[str]) -> Path | None:
    """The first of `names` directly in root, else anywhere below it."""
    if root.is_file():
        return root if root.name in names else None
    for name in names:
        if (root / name).is_file():
            return root / name
    for name in names:
        found = sorted(root.rglob(name))
        if found:
            return found[0]
    return None


def extract_archive(archive: Path, destination: Path) -> Path:
    """Extract a model.tar.gz safely (no absolute paths, no escaping links)."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:  # Python without extraction filters (< 3.9.17): check member paths ourselves
            root = destination.resolve()
            for member in tar.getmembers():
                target = (destination / member.name).resolve()
                if root not in target.parents and target != root or member.issym() or member.islnk():
                    raise JobInputError(f"{archive}: refusing to extract unsafe member {member.name!r}")
            tar.extractall(destination)  # noqa: S202 - members checked above
    return destination


def import_xgboost() -> ModuleType:
    """`xgboost`, imported without scikit-learn, which the jobs never use through it.

    `import xgboost` runs xgboost/core.py, which imports xgboost/compat.py, whose module-level
    `try: from sklearn.base import BaseEstimator ... except ImportError: SKLEARN_INSTALLED = False` imports
    scikit-learn whenever the image has it (the XGBoost 3.2-0 image pins scikit-learn 1.8.0): about 0.6-0.8 s of
    xgboost's 0.8-1.1 s import, only for the XGBClassifier/XGBRegressor base classes and `cv`'s StratifiedKFold.
    The jobs use Booster, DMatrix/QuantileDMatrix, `train` and callbacks only. A `None` entry in `sys.modules`
    makes `import sklearn` raise ModuleNotFoundError (Python's import system, "The module cache"), so compat.py
    takes its own no-scikit-learn branch; the entry is removed right after, so a job that wants scikit-learn for
    something else can still import it (and pays for it where it does). When xgboost or scikit-learn is
    already imported (the serving container imports both before the inference script), nothing changes.
    """
    if "xgboost" not in sys.modules and "sklearn" not in sys.modules:
        sys.modules["sklearn"] = None  # type: ignore[assignment]
        try:
            import xgboost
        finally:
            if "sklearn" in sys.modules and sys.modules["sklearn"] is None:
                del sys.modules["sklearn"]
        return xgboost
    import xgboost

    return xgboost


class LoadedModel:
    """A trained booster with the preprocessor that encodes its input."""

    def __init__(self, booster: Any, preprocessor: dict[str, Any]) -> None:
        self.booster = booster
        self.preprocessor = preprocessor

    @property
    def problem_type(self) -> str:
        return str(self.preprocessor["problem_type"])

    @property
    def classes(self) -> list[str]:
        return list(self.preprocessor.get("classes") or [])

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.preprocessor["features"]]

    @property
    def encoded_width(self) -> int:
        return len(encoded_names(self.preprocessor["features"]))

    def predict_encoded(self, matrix: np.ndarray) -> np.ndarray:
        """Binary: P(positive) per row; multiclass: (rows, classes) probabilities; regression: values."""
        xgb = import_xgboost()
        rows = matrix.shape[0]
        if rows == 0:
            return np.zeros((0, len(self.classes))) if self.problem_type == MULTICLASS else np.zeros(0)
        raw = np.asarray(self.booster.predict(xgb.DMatrix(np.asarray(matrix, dtype=float))))
        if self.problem_type != MULTICLASS:
            return raw.reshape(-1).astype(float)
        width = len(self.classes)
        if raw.ndim == 1 and raw.size == rows:  # multi:softmax returns class indices
            probabilities = np.zeros((rows, width))
            probabilities[np.arange(rows), raw.astype(int)] = 1.0
            return probabilities
        return raw.reshape(rows, width).astype(float)

    def predict_raw(self, raw: pd.DataFrame) -> np.ndarray:
        return self.predict_encoded(encode_frame(raw, self.preprocessor))


def load_preprocessor(path: Path) -> dict[str, Any]:
    preprocessor = json.loads(path.read_text(encoding="utf-8"))
    if preprocessor.get("problem_type") not in PROBLEM_TYPES or "features" not in preprocessor:
        raise JobInputError(f"{path} is not a Driftline preprocessor.json (problem_type or features missing)")
    return dict(preprocessor)


def load_model_dir(model_dir: str | Path) -> LoadedModel:
    """Load xgboost-model.json and preprocessor.json from an extracted model directory."""
    xgb = import_xgboost()
    root = Path(model_dir)
    model_path = find_file(root, [MODEL_FILE, "xgboost-model"])
    preprocessor_path = find_file(root, [PREPROCESSOR_FILE])
    if model_path is None or preprocessor_path is None:
        raise JobInputError(f"{root} must contain {MODEL_FILE} and {PREPROCESSOR_FILE} (a Driftline model.tar.gz)")
    booster = xgb.Booster()
    booster.load_model(str(model_path))
    return LoadedModel(booster, load_preprocessor(preprocessor_path))


def throughput_line(job: str, unit: str, count: float, seconds: float, **counts: int) -> tuple[float, str]:
    """A job's throughput and the log line that states it with its unit: `(value, line)`.

    `<job>_throughput <unit>_per_second=<v> <name>=<n> ... seconds=<s>`: the unit is in the figure's name
    (`row_rounds` for boosting, where every round passes over every row; `rows` for a pass over a dataset),
    the counts it comes from follow in the order given, the wall time last. A training request's
    MetricDefinitions read `<unit>_per_second` and the counts by name (driftline.sagemaker_requests).
    """
    value = count / seconds if seconds > 0 and count else 0.0
    parts = [f"{job}_throughput {unit}_per_second={value:.1f}"]
    parts += [f"{name}={int(number)}" for name, number in counts.items()]
    parts.append(f"seconds={seconds:.3f}")
    return value, " ".join(parts)


def log_throughput(log: logging.Logger, job: str, unit: str, count: float, seconds: float, **counts: int) -> float:
    """Log `throughput_line(...)` and return the value (for the job's summary file)."""
    value, line = throughput_line(job, unit, count, seconds, **counts)
    log.info("%s", line)
    return value


MMAP_THRESHOLD = 256 << 10  # bytes: blocks from this size up get their own mapping, unmapped when freed
TRIM_THRESHOLD = 4 << 20  # bytes: free memory past this at the top of the heap goes back to the system


def steady_allocator() -> bool:
    """Fix glibc malloc's mmap and trim thresholds, so a job that allocates and frees a chunk's arrays in a loop
    holds about one chunk's worth of memory however many chunks it reads. True when they were set.

    By default both thresholds are dynamic: freeing a mapped block raises the mmap threshold to its size (up to
    32 MiB) and the trim threshold to twice that, so after the first large chunk array every later one comes from
    the heap, and the heap keeps up to 64 MiB free at its top plus the holes that arrays of varying sizes leave:
    measured on preprocess.py, the heap grew from 61 to 141 MiB over 1M rows with 22-67 MiB of it in use. Setting
    either threshold turns the dynamic adjustment off (mallopt(3), "M_MMAP_THRESHOLD"). The cost is a mapping
    (and its page faults) per large block; other C libraries (musl) ignore or lack mallopt: nothing changes there.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))


def peak_memory_mib() -> float | None:
    """This program's peak resident memory in MiB: VmHWM of /proc/self/status (Linux); None where there is none.

    Not getrusage's ru_maxrss, which on Linux is never below the peak of the process that started this one: at
    exec the kernel folds the old address space's high-water mark into the process record (fs/exec.c exec_mmap,
    setmax_mm_hiwater_rss), and a child started by fork or vfork runs in (a copy of) its parent's address space
    until exec. VmHWM belongs to the address space this program runs in and starts from zero at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def log_stage(log: logging.Logger, job: str, stage: str, rows: int, wall_started: float, cpu_started: float) -> None:
    """`<job>_stage stage=<stage> rows=<n> seconds=<wall> cpu_seconds=<cpu> peak_memory_mib=<m>`: one pass of a job,
    timed from `time.monotonic()` / `time.process_time()` values taken at its start; the peak is the process's so
    far (peak_memory_mib; `unknown` without /proc). bench/scale.py reads these lines."""
    peak = peak_memory_mib()
    log.info(
        "%s_stage stage=%s rows=%d seconds=%.3f cpu_seconds=%.3f peak_memory_mib=%s",
        job,
        stage,
        rows,
        time.monotonic() - wall_started,
        time.process_time() - cpu_started,
        "unknown" if peak is None else f"{peak:.1f}",
    )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --- several instances (ShardedByS3Key): which host this is, and the stage arguments ---------------------------

RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"  # SageMaker writes it on every instance of a job


def sharded_host(path: Path, stage: str) -> tuple[str, list[str]]:
    """(this instance, every instance) from SageMaker's resourceconfig.json, for a stage that runs on every instance.

    Its outputs are named after the host, so a guess (algo-1 on every instance) would let the instances overwrite
    each other's: without a readable file naming this host among its hosts, the stage refuses."""
    try:
        resource = json.loads(path.read_text(encoding="utf-8"))
        host, hosts = str(resource["current_host"]), [str(name) for name in resource["hosts"]]
    except FileNotFoundError as exc:
        raise JobInputError(f"--stage {stage}: no {path} to say which host this is") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobInputError(f"--stage {stage}: {path} names no current_host and hosts ({exc})") from exc
    if not host or "/" in host or host not in hosts:
        raise JobInputError(f"--stage {stage}: {path} names current_host {host!r}, not one of its hosts {hosts}")
    return host, hosts


def add_partial_merge_arguments(parser: Any, partial_writes: str) -> None:
    """--stage all|partial|merge, --partials-dir and --resource-config, as the monitors take them."""
    parser.add_argument(
        "--stage",
        choices=("all", "partial", "merge"),
        default="all",
        help=f"all: one instance; partial: {partial_writes} to <output-dir>/partials/<host>.json; merge: the "
        "reports from every partial in --partials-dir (monitoring.instance_count > 1)",
    )
    parser.add_argument("--partials-dir", help="--stage merge: every instance's partials/ output")
    parser.add_argument("--resource-config", default=RESOURCE_CONFIG, help="hosts (SageMaker)")


def check_partial_merge_arguments(parser: Any, args: Any) -> None:
    if args.stage == "merge" and not args.partials_dir:
        parser.error("--stage merge needs --partials-dir")

"""One Python environment per SageMaker framework image, chosen by the request's image URI.

On AWS a job runs inside its container image: only that image's packages are importable, on that
image's Python. The local cloud mirrors that with one virtualenv per image under `.venv/images/<image>`,
built by `make image-envs` (`python -m driftline_local.sagemaker.image_envs build <image>`) from the
image's pins in `local/driftline_local/images/<image>.txt`, and picks it by the repository and
version in the ECR URI: `<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3`
is `sklearn-1.4-2`, `.../sagemaker-xgboost:3.2-0` (or `3.2-0-cpu-py3`) is `xgboost-3.2-0`.

Each pins file names its image's Python (`# python: 3.10`). The build uses that interpreter when the
machine has it (`python3.10` on PATH, or a pyenv version); otherwise the project's Python 3.11, and
says so: the interpreter version is then only checked statically (tests/unit/jobs/test_images_python.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PINS_DIR = Path(__file__).resolve().parents[1] / "images"

# ECR repository name -> framework key used for the pins file and the environment's folder.
_REPOSITORIES = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}
_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+):(?P<tag>[A-Za-z0-9._-]+)$"
)
_VERSION = re.compile(r"^(?P<version>\d+\.\d+-\d+)(?:-(?:cpu|gpu))?(?:-py3\d*)?$")
_PYTHON = re.compile(r"^#\s*python:\s*(?P<version>3\.\d+)\s*$", re.MULTILINE)
STAMP = ".installed"


class UnknownImage(ValueError):
    """The image URI names no SageMaker framework image the local cloud has an environment for."""


class ImageEnvMissing(RuntimeError):
    """The image is known but its environment has not been built (`make image-envs`)."""


def image_name(image_uri: str) -> str:
    """`sklearn-1.4-2` for `...amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3`; UnknownImage otherwise."""
    match = _URI.match(image_uri or "")
    if not match:
        raise UnknownImage(f"Image {image_uri!r} is not a valid ECR image URI")
    if match["repository"] not in _REPOSITORIES:
        raise UnknownImage(f"Image {image_uri!r} is not a SageMaker framework image the local cloud knows")
    version = _VERSION.match(match["tag"])
    name = f"{_REPOSITORIES[match['repository']]}-{version['version']}" if version else ""
    if not version or not (PINS_DIR / f"{name}.txt").exists():
        raise UnknownImage(f"Image {image_uri!r}: tag {match['tag']} of {match['repository']} is not known")
    return name


def known_images() -> list[str]:
    return sorted(path.stem for path in PINS_DIR.glob("*.txt"))


def image_python_version(name: str) -> str:
    """The image's Python (`3.10`), from its pins file."""
    match = _PYTHON.search((PINS_DIR / f"{name}.txt").read_text())
    if not match:
        raise ValueError(f"{PINS_DIR / name}.txt has no '# python: 3.x' line")
    return match["version"]


def envs_dir() -> Path:
    return Path(os.environ.get("DRIFTLINE_IMAGE_ENVS") or ROOT / ".venv" / "images")


def env_dir(name: str) -> Path:
    return envs_dir() / name


def python_for_image(image_uri: str) -> str:
    """The interpreter of the image's environment.

    Raises UnknownImage for an image the local cloud has no pins for (AWS would fail to pull it) and
    ImageEnvMissing when the environment is not built: a job never falls back to the project's venv.
    """
    name = image_name(image_uri)
    python = env_dir(name) / "bin" / "python"
    if not (env_dir(name) / STAMP).exists() or not python.exists():
        raise ImageEnvMissing(
            f"the local cloud's environment for image {name} is not built: run `make image-envs` "
            f"(python -m driftline_local.sagemaker.image_envs build {name})"
        )
    return str(python)


def env_path(image_uri: str) -> str:
    """PATH for a process in the image's environment: its `bin` first, so `python3` is the image's."""
    bin_dir = Path(python_for_image(image_uri)).parent
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != Path(sys.prefix) / "bin"]
    return os.pathsep.join([str(bin_dir), *rest])


# ---- building -------------------------------------------------------------------------------------


def find_interpreter(version: str) -> tuple[str, bool]:
    """(interpreter, exact): `python3.X` on PATH or from pyenv; else this Python 3.11 (exact=False)."""
    candidates: list[str] = []
    found = shutil.which(f"python{version}")
    if found:
        candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv, ssl; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate, True
    return sys.executable, False


def build(name: str) -> Path:
    """Create `.venv/images/<name>` from the pins file, on the image's Python when the machine has it."""
    pins = PINS_DIR / f"{name}.txt"
    version = image_python_version(name)
    interpreter, exact = find_interpreter(version)
    target = env_dir(name)
    if target.exists():
        shutil.rmtree(target)
    if not exact:
        print(
            f"image-envs: Python {version} (the {name} image's) is not on this machine; building {name} on "
            f"Python {sys.version_info[0]}.{sys.version_info[1]}: its version is then only checked by vermin",
            file=sys.stderr,
        )
    subprocess.run([interpreter, "-m", "venv", str(target)], check=True)
    python = target / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:"]
    subprocess.run([*pip, "-r", str(pins)], check=True)
    subprocess.run([str(python), "-m", "pip", "check", "--disable-pip-version-check"], check=True)
    actual = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    (target / STAMP).write_text(f"image {name}\npins {pins.name}\npython {actual} (image: {version})\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m driftline_local.sagemaker.image_envs")
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser = sub.add_parser("build", help="build image environments from local/driftline_local/images/")
    build_parser.add_argument("images", nargs="*", help=f"default: all ({', '.join(known_images())})")
    sub.add_parser("list", help="known images and their environments")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in known_images():
            stamp = env_dir(name) / STAMP
            state = stamp.read_text().splitlines()[2] if stamp.exists() else "not built"
            print(f"{name}\tPython {image_python_version(name)}\t{state}")
        return 0
    for name in args.images or known_images():
        if name not in known_images():
            parser.error(f"unknown image {name}; known: {', '.join(known_images())}")
        print(f"image-envs: {build(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

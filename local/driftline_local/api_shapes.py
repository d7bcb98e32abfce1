"""A request checked against botocore's service model as the service checks it, not only as botocore does.

botocore's `ParamValidator` checks required members, types, unknown members and *minimum* lengths and values;
it leaves maximum lengths, maximum values, enums and patterns to the service, which refuses them with a
ValidationException (the model carries them as `max`, `enum` and `pattern` in each shape's metadata). moto
checks almost none of them either, so a request that AWS refuses (a tag value with a parenthesis, a name one
character too long) would pass the whole local loop. `problems(service, operation, params)` reports every
such violation in the service's words: `Value 'a (b)' at 'tags.2.member.value' failed to satisfy constraint:
Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`.

Patterns are Java regular expressions (`\\p{L}`); the `regex` module reads them (Python's `re` does not).
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.model import Shape
from botocore.session import Session
from botocore.validate import ParamValidator

try:
    import regex as _regex
except ImportError:  # pragma: no cover - a dependency of the local cloud (pyproject.toml)
    _regex = None


@functools.cache
def _service(name: str) -> Any:
    return Session().get_service_model(name)


@functools.cache
def _pattern(pattern: str) -> Any:
    """The compiled pattern, or None when it cannot be checked here (a few Java patterns pair UTF-16
    surrogates, which `regex` refuses: those members go unchecked rather than fail the request)."""
    if _regex is None:
        return None
    try:
        return _regex.compile(pattern)
    except _regex.error:
        return None


def problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every reason `service` would refuse `params` for `operation` that its model states ([] if none).

    Each is worded as the service words it: `Value 'a (b)' at 'tags.2.member.value' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ...` (the path in the service's lowerCamel
    form, list positions from 1); botocore's own findings keep botocore's wording."""
    shape = _service(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    found = [line.strip() for line in report.generate_report().splitlines()[1:] if line.strip()]
    _walk(params, shape, "", found)
    return found


def _at(path: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{path}.{name}" if path else name


def _refused(found: list[str], value: Any, path: str, constraint: str) -> None:
    shown = value if not isinstance(value, str) or len(value) <= 100 else value[:100] + "..."
    found.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must {constraint}")


def _walk(value: Any, shape: Shape, path: str, found: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _walk(value[name], member, _at(path, name), found)
        return
    if kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            _refused(found, f"{len(value)} items", path, f"have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            _walk(item, shape.member, f"{path}.{i + 1}.member", found)
        return
    if kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            _refused(found, f"{len(value)} entries", path, f"have length less than or equal to {meta['max']}")
        for key, item in value.items():
            _walk(key, shape.key, f"{path}.key", found)
            _walk(item, shape.value, f"{path}.{key}", found)
        return
    if kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            _refused(found, value, path, f"have length less than or equal to {meta['max']}")
        if shape.enum and value not in shape.enum:
            _refused(found, value, path, f"satisfy enum value set: [{', '.join(shape.enum)}]")
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and compiled.fullmatch(value) is None:
            _refused(found, value, path, f"satisfy regular expression pattern: {meta['pattern']}")
        return
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in {"integer", "long", "float", "double"} and number and "max" in meta and value > meta["max"]:
        _refused(found, value, path, f"have value less than or equal to {meta['max']}")

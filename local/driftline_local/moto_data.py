"""moto's bundled EC2 instance-type offerings, read when EC2 asks for them instead of when moto is imported.

moto 5.2.5's `moto.ec2.models.instance_types` parses every region's instance-type offerings (three location
types x ~30 regions, 624 KiB gzipped) into ``INSTANCE_TYPE_OFFERINGS`` when the module is imported: about
50 MiB of Python dicts and strings. The local cloud imports it without using EC2 (the Step Functions
interpreter imports `moto.batch`, which imports `moto.ec2`; CloudFormation's parser imports every backend),
so that data sat in the cloud's process for nothing. `install()` (before anything imports `moto.ec2`) keeps
``INSTANCE_TYPE_OFFERINGS``'s shape (location type -> region -> offerings) and reads one region's file the
first time EC2 looks it up (DescribeInstanceTypeOfferings, RunInstances with a placement,
DescribeSpotPriceHistory answer exactly as before).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

OFFERINGS_MODULE = "moto.ec2.models.instance_types"
OFFERINGS_RESOURCES = "ec2/resources/instance_type_offerings"  # <location type>/<region>.json[.gz]


class LazyRegionOfferings(dict):  # type: ignore[type-arg]
    """region -> that region's offerings of one location type, each region's file read on first lookup."""

    def __init__(self, location_type: str, files: dict[str, str]) -> None:
        super().__init__()
        self.location_type = location_type
        self._files = files  # region -> resource path under moto's package
        self._lock = threading.Lock()

    def _load(self, region: str) -> list[dict[str, Any]]:
        from moto.utilities.utils import load_resource

        with self._lock:
            if not dict.__contains__(self, region):
                offerings = load_resource(self._files[region])
                for offering in offerings:
                    offering["LocationType"] = self.location_type  # as moto's module does at import
                dict.__setitem__(self, region, offerings)
            return dict.__getitem__(self, region)  # type: ignore[no-any-return]

    def _load_all(self) -> None:
        for region in self._files:
            self._load(region)

    def __missing__(self, region: str) -> list[dict[str, Any]]:
        if region not in self._files:
            raise KeyError(region)
        return self._load(region)

    def get(self, region: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[region] if region in self._files else default

    def __contains__(self, region: object) -> bool:
        return region in self._files

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Any:
        return iter(list(self._files))

    def keys(self) -> Any:  # type: ignore[override]
        return list(self._files)

    def items(self) -> Any:  # type: ignore[override]
        self._load_all()
        return dict.items(self)

    def values(self) -> Any:  # type: ignore[override]
        self._load_all()
        return dict.values(self)


def _offering_files() -> dict[str, dict[str, str]]:
    import moto

    root = os.path.join(os.path.dirname(moto.__file__), *OFFERINGS_RESOURCES.split("/"))
    files: dict[str, dict[str, str]] = {}
    for location_type in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, location_type))):
            region = name.split(".")[0]
            # load_resource reads "<name>.gz" first, then the plain file: give it the name without ".gz"
            files.setdefault(location_type, {})[region] = f"{OFFERINGS_RESOURCES}/{location_type}/{name}".removesuffix(
                ".gz"
            )
    return files


def install() -> None:
    """Make ``INSTANCE_TYPE_OFFERINGS`` lazy: before `moto.ec2` is imported, its import parses none of the
    offerings; if it was imported already (another moto user in this process), the parsed data is released."""
    import moto.utilities.utils as moto_utils

    files = _offering_files()
    module: Any = sys.modules.get(OFFERINGS_MODULE)
    if module is None:
        load_resource = moto_utils.load_resource

        def load_outside_offerings(resource: str) -> Any:
            if resource.startswith(OFFERINGS_RESOURCES + "/"):
                return []  # the module's import loop stores an empty list; replaced below
            return load_resource(resource)

        moto_utils.load_resource = load_outside_offerings  # the module binds it by name at import
        try:
            import moto.ec2.models.instance_types

            module = moto.ec2.models.instance_types
        finally:
            moto_utils.load_resource = load_resource
    offerings: dict[str, Any] = module.INSTANCE_TYPE_OFFERINGS  # the same dict instances.py and spot_requests.py hold
    for location_type, regions in files.items():
        if not isinstance(offerings.get(location_type), LazyRegionOfferings):
            offerings[location_type] = LazyRegionOfferings(location_type, regions)

"""CopyObject as S3 does it, where moto 5.2.5 does not: a source over 5 GiB is refused, and a copy of a
multipart object gets a checksum of its own data.

S3 API reference, CopyObject: "You can create a copy of your object up to 5 GB in size in a single
atomic action ... to copy an object greater than 5 GB, you must use the multipart upload Upload Part -
Copy (UploadPartCopy) API." S3 answers `InvalidRequest` "The specified copy source is larger than the
maximum allowable size for a copy source: 5368709120" (HTTP 400), as reported verbatim in
hashicorp/terraform-provider-aws#38102 and rclone/rclone#2375.

A multipart object's checksum is COMPOSITE (a checksum of the parts' checksums, "Checking object integrity"
in the S3 User Guide); a CopyObject copy is a new single-part object whose checksum S3 calculates over the
copied data (CopyObject's response carries the copy's ChecksumCRC32 and ChecksumType). moto 5.2.5 copies the
source's composite value onto the copy without its type, so every SDK that validates responses (botocore
does, by default since 1.36) refuses to read the copy: "Expected checksum ... did not match calculated
checksum". The copy here gets a FULL_OBJECT checksum of its data with the source's algorithm.
"""

from __future__ import annotations

import functools
from typing import Any

MAX_COPY_SOURCE_BYTES = 5 * 1024**3  # 5368709120


def install() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    original = S3Backend.copy_object
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def copy_object(self: Any, src_key: Any, *args: Any, **kwargs: Any) -> Any:
        if int(src_key.size or 0) > MAX_COPY_SOURCE_BYTES:
            raise S3ClientError(
                "InvalidRequest",
                "The specified copy source is larger than the maximum allowable size for a copy source: "
                f"{MAX_COPY_SOURCE_BYTES}",
            )
        result = original(self, src_key, *args, **kwargs)
        if src_key.checksum_value and getattr(src_key, "checksum_type", None) == "COMPOSITE":
            _checksum_of_own_data(self, *_destination(args, kwargs))
        return result

    copy_object._driftline_local = True  # type: ignore[attr-defined]
    S3Backend.copy_object = copy_object  # type: ignore[method-assign]


def _destination(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    bucket = kwargs.get("dest_bucket_name", args[0] if args else None)
    key = kwargs.get("dest_key_name", args[1] if len(args) > 1 else None)
    return str(bucket), str(key)


def _checksum_of_own_data(backend: Any, bucket: str, key_name: str) -> None:
    from moto.s3.utils import compute_checksum

    copy = backend.get_object(bucket, key_name)
    if copy is None or not copy.checksum_algorithm:
        return
    copy.checksum_value = compute_checksum(copy.value, copy.checksum_algorithm).decode()
    copy.checksum_type = "FULL_OBJECT"

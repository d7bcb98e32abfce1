"""CopyObject refuses a source over 5 GiB, as S3 does; moto 5.2.5 copies any size.

S3 API reference, CopyObject: "You can create a copy of your object up to 5 GB in size in a single
atomic action ... to copy an object greater than 5 GB, you must use the multipart upload Upload Part -
Copy (UploadPartCopy) API." S3 answers `InvalidRequest` "The specified copy source is larger than the
maximum allowable size for a copy source: 5368709120" (HTTP 400), as reported verbatim in
hashicorp/terraform-provider-aws#38102 and rclone/rclone#2375.
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
        return original(self, src_key, *args, **kwargs)

    copy_object._driftline_local = True  # type: ignore[attr-defined]
    S3Backend.copy_object = copy_object  # type: ignore[method-assign]

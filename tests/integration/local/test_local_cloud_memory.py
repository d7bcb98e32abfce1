"""The local cloud keeps generated data out of its own process: S3 bodies live on disk, not in the server."""

from __future__ import annotations

import os


def _stored_key(cloud, bucket, key):
    from moto.s3.models import s3_backends

    return s3_backends[cloud.ctx.account_id]["aws"].buckets[bucket].keys.getlist(key)[-1]


def test_an_uploaded_object_body_is_kept_on_disk_not_in_the_server(stack, aws, cloud):
    bucket = stack.outputs["DataBucketName"]
    body = os.urandom(512 * 1024)  # a small CSV's size: below moto's own 5 MiB spooling threshold

    aws("s3").put_object(Bucket=bucket, Key="scratch/large.bin", Body=body)

    buffer = _stored_key(cloud, bucket, "scratch/large.bin")._value_buffer
    assert buffer._rolled  # moto's SpooledTemporaryFile moved the body to a file
    assert aws("s3").get_object(Bucket=bucket, Key="scratch/large.bin")["Body"].read() == body

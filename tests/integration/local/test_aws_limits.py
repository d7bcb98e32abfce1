"""Limits the local cloud checks where moto does not: each refused as AWS refuses it (same error code
and message), each accepted up to AWS's limit."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def _alarm(aws, **settings) -> None:
    aws("cloudwatch").put_metric_alarm(
        AlarmName=f"limits-{uuid.uuid4().hex[:8]}",
        Namespace="Driftline/Limits",
        MetricName="M",
        Statistic="Maximum",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=1.0,
        **settings,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"Period": 45, "EvaluationPeriods": 1}, "Period must be 10, 20, 30 or a multiple of 60"),
        ({"Period": 90, "EvaluationPeriods": 1}, "Period must be 10, 20, 30 or a multiple of 60"),
        ({"Period": 60, "EvaluationPeriods": 1441}, "must not exceed 86400 seconds"),
        ({"Period": 1800, "EvaluationPeriods": 49}, "must not exceed 86400 seconds"),
        ({"Period": 3600, "EvaluationPeriods": 169}, "must not exceed 604800 seconds"),
        (
            {"Period": 60, "EvaluationPeriods": 2, "DatapointsToAlarm": 3},
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods",
        ),
    ],
    ids=["period 45", "period 90", "a day and a minute", "a day and half an hour", "a week and an hour", "M > N"],
)
def test_put_metric_alarm_refuses_what_cloudwatch_refuses(aws, settings, message):
    with pytest.raises(ClientError) as error:
        _alarm(aws, **settings)

    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert message in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "settings",
    [
        {"Period": 10, "EvaluationPeriods": 1},
        {"Period": 20, "EvaluationPeriods": 1},
        {"Period": 30, "EvaluationPeriods": 2880},
        {"Period": 60, "EvaluationPeriods": 1440},
        {"Period": 3600, "EvaluationPeriods": 168},
        {"Period": 86400, "EvaluationPeriods": 7, "DatapointsToAlarm": 7},
    ],
    ids=["10 s", "20 s", "a day of 30 s", "a day of minutes", "a week of hours", "a week of days"],
)
def test_put_metric_alarm_accepts_up_to_cloudwatchs_limits(aws, settings):
    _alarm(aws, **settings)


@pytest.fixture
def bucket(aws) -> str:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    return name


def _object_of_size(cloud, bucket: str, key: str, size: int) -> None:
    """A small object that S3 (moto, in this process) reports as `size` bytes: 5 GiB is not written here."""
    from moto.s3.models import s3_backends

    stored = s3_backends[cloud.ctx.account_id]["aws"].get_object(bucket, key)
    stored.contentsize = size


def test_copy_object_refuses_a_source_over_5_gib(aws, cloud, bucket):
    aws("s3").put_object(Bucket=bucket, Key="incoming/big.csv", Body=b"a,b\n1,2\n")
    _object_of_size(cloud, bucket, "incoming/big.csv", 5 * 1024**3 + 1)

    with pytest.raises(ClientError) as error:
        aws("s3").copy_object(
            Bucket=bucket, Key="quarantine/big.csv", CopySource={"Bucket": bucket, "Key": "incoming/big.csv"}
        )

    assert error.value.response["Error"]["Code"] == "InvalidRequest"
    assert error.value.response["Error"]["Message"] == (
        "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
    )


def test_copy_object_copies_a_source_of_exactly_5_gib(aws, cloud, bucket):
    aws("s3").put_object(Bucket=bucket, Key="incoming/edge.csv", Body=b"a,b\n1,2\n")
    _object_of_size(cloud, bucket, "incoming/edge.csv", 5 * 1024**3)

    aws("s3").copy_object(
        Bucket=bucket, Key="quarantine/edge.csv", CopySource={"Bucket": bucket, "Key": "incoming/edge.csv"}
    )


def test_a_copy_of_a_multipart_object_reads_back_with_a_checksum_of_its_own_data(aws, bucket):
    # A large upload arrives in parts (as `aws s3 cp` sends it): its checksum is COMPOSITE. S3 gives a copy
    # (quarantine, release, a run's artifacts) a checksum of the copied data, so a validating SDK reads it.
    import io

    from boto3.s3.transfer import TransferConfig

    data = b"age,job,balance\n" + b"41,admin.,1200\n" * 700_000  # ~10.5 MiB: three 5 MiB parts
    parts = TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2)
    aws("s3").upload_fileobj(io.BytesIO(data), bucket, "incoming/big.csv", Config=parts)
    source = aws("s3").get_object(Bucket=bucket, Key="incoming/big.csv", ChecksumMode="ENABLED")
    assert source["ChecksumType"] == "COMPOSITE" and source["ChecksumCRC32"].endswith("-3")  # a checksum of 3 parts

    aws("s3").copy_object(
        Bucket=bucket, Key="quarantine/big.csv", CopySource={"Bucket": bucket, "Key": "incoming/big.csv"}
    )

    copied = aws("s3").get_object(Bucket=bucket, Key="quarantine/big.csv", ChecksumMode="ENABLED")
    assert copied["Body"].read() == data  # botocore validates the checksum while reading
    assert copied["ChecksumType"] == "FULL_OBJECT"

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


def test_ec2_instance_type_offerings_are_read_when_ec2_asks_not_when_the_cloud_starts(cloud, aws):
    import gzip
    import json

    import moto
    from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS

    assert all(dict.__len__(regions) == 0 for regions in INSTANCE_TYPE_OFFERINGS.values())  # none parsed yet

    answer = aws("ec2").describe_instance_type_offerings(LocationType="availability-zone")

    path = os.path.join(
        os.path.dirname(moto.__file__), "ec2/resources/instance_type_offerings/availability-zone/us-east-1.json.gz"
    )
    with open(path, "rb") as f:
        bundled = json.loads(gzip.decompress(f.read()))
    offered = {(o["InstanceType"], o["Location"]) for o in answer["InstanceTypeOfferings"]}
    assert answer["InstanceTypeOfferings"][0]["LocationType"] == "availability-zone"
    assert offered == {(o["InstanceType"], o["Location"]) for o in bundled}  # what moto answered before
    assert dict.__len__(INSTANCE_TYPE_OFFERINGS["availability-zone"]) == 1  # only the region asked about


def test_sessions_in_the_cloud_share_one_parsed_model_and_each_keeps_its_own_extras(cloud):
    import boto3
    import botocore.session
    from moto.core.loaders import create_loader as moto_loader

    plain = botocore.session.Session().get_component("data_loader")
    through_boto3 = boto3.Session(region_name=cloud.ctx.region)._session.get_component("data_loader")

    model = plain.load_service_model("sagemaker", "service-2")

    assert through_boto3.load_service_model("sagemaker", "service-2") is model  # one copy in the cloud's process
    s3_plain = plain.load_service_model("s3", "service-2")
    s3_moto = moto_loader().load_service_model("s3", "service-2")
    assert s3_moto is not s3_plain  # moto's extras are merged into moto's copy only
    assert (
        boto3.Session(region_name=cloud.ctx.region)
        .client("sagemaker", endpoint_url=cloud.endpoint_url, aws_access_key_id="a", aws_secret_access_key="b")
        .meta.endpoint_url
        == cloud.endpoint_url
    )


_DEPLOY_AND_LIST_TRANSLATOR = """
import json, sys, tempfile
from pathlib import Path
from driftline_local.cloud import LocalCloud

with LocalCloud(port=0, workdir=tempfile.mkdtemp(), lambda_initialize_ahead=False) as cloud:
    stack = cloud.deploy(Path(sys.argv[1]), "translatorcheck", {"OnCallEmail": "pager@example.com"})
    print(json.dumps({
        "outputs": sorted(stack.outputs),
        "translator_modules": sorted(m for m in sys.modules if m.startswith("samtranslator.translator")),
    }))
"""


def _deploy_the_sam_app_in_a_fresh_process(script: str) -> dict:
    """Run `script` (which deploys the template given as its argument) in its own interpreter; its last line's JSON."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    template = Path(__file__).parent / "sam_app" / "template.yaml"
    done = subprocess.run(
        [sys.executable, "-c", script, str(template)], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_deploying_a_sam_template_leaves_the_translator_out_of_the_clouds_process():
    # Given a fresh local cloud in its own process, When a SAM template is deployed
    result = _deploy_the_sam_app_in_a_fresh_process(_DEPLOY_AND_LIST_TRANSLATOR)

    # Then the stack is deployed from the translated template, and the translator ran in a child process
    assert "DataBucketName" in result["outputs"]
    assert result["translator_modules"] == []


_FREE_AFTER_A_LARGER_BLOCK = """
import sys
from driftline_local.cloud import return_large_blocks

def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

if sys.argv[1] == "fixed":
    return_large_blocks()
first = b"x" * (16 << 20)  # a large body, freed: glibc would raise its threshold to its size
del first
before = rss_kib()
body = b"y" * (4 << 20)  # the next request's body
del body
print(rss_kib() - before)
"""


def test_the_clouds_process_gives_back_a_freed_large_body_after_a_larger_one():
    import subprocess
    import sys

    def retained_kib(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _FREE_AFTER_A_LARGER_BLOCK, mode], capture_output=True, text=True, check=True
        )
        return int(done.stdout.strip())

    # Given glibc's default, a 4 MiB body freed after a 16 MiB one stays in the heap
    assert retained_kib("default") >= 3 * 1024
    # When the cloud's process fixes the threshold, Then it is given back
    assert retained_kib("fixed") < 512


_DEPLOY_AND_COUNT_WHAT_A_COLLECTION_WALKS = """
import gc, json, sys, tempfile, weakref
from pathlib import Path
from driftline_local.cloud import LocalCloud

class Node:
    pass

with LocalCloud(port=0, workdir=tempfile.mkdtemp(), lambda_initialize_ahead=False) as cloud:
    cycle = Node()
    cycle.itself = cycle
    dropped = weakref.ref(cycle)
    del cycle  # garbage only the cyclic collector finds
    cloud.deploy(Path(sys.argv[1]), "collectorcheck", {"OnCallEmail": "pager@example.com"})
    deployed = {
        "left_out": gc.get_freeze_count(),
        "walked_by_a_full_collection": len(gc.get_objects()),
        "garbage_kept": dropped() is not None,
    }
print(json.dumps(deployed | {"left_out_after_stop": gc.get_freeze_count()}))
"""


def test_what_a_deployed_cloud_holds_is_left_out_of_later_full_collections():
    # Given a fresh local cloud in its own process, When a SAM template is deployed
    counts = _deploy_the_sam_app_in_a_fresh_process(_DEPLOY_AND_COUNT_WHAT_A_COLLECTION_WALKS)

    # Then a full collection during a run walks only what was made since (a full pass over everything the cloud
    # holds took 0.2-0.3 s with the server waiting), the garbage before the deploy was collected, not kept,
    # and the cloud's stop hands everything back to the collector
    assert counts["left_out"] > 3 * counts["walked_by_a_full_collection"], counts
    assert counts["garbage_kept"] is False
    assert counts["left_out_after_stop"] == 0

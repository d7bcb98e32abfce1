"""The per-host contract of a multi-instance SageMaker job: hosts, resourceconfig.json, sharded inputs, names.

A job with `InstanceCount` N runs on N hosts named `algo-1` .. `algo-N`; every host gets the list of all
of them, sorted lexicographically (so `algo-10` sorts before `algo-2`, as the toolkit documents), and
its own name:

- training: `/opt/ml/input/config/resourceconfig.json` with `current_host`, `current_instance_type`,
  `current_group_name`, `hosts`, `instance_groups` and `network_interface_name`, and the toolkit's
  `SM_HOSTS`, `SM_CURRENT_HOST`, `SM_NETWORK_INTERFACE_NAME`, ... variables (aws/sagemaker-training-toolkit
  src/sagemaker_training/environment.py, ENVIRONMENT_VARIABLES.md);
- processing: `/opt/ml/config/resourceconfig.json` with `current_host` and `hosts` (AWS docs,
  "How Amazon SageMaker Processing Configures Input and Output For Your Processing Container").

Inputs: `FullyReplicated` gives every host every object; `ShardedByS3Key` gives each host about 1/N of
the objects (AWS API reference, S3DataSource.S3DataDistributionType / ProcessingS3Input). AWS documents
only that share, not which key goes where; locally the keys are dealt round-robin in ListObjectsV2 order
(UTF-8 binary key order) by the host's position in `hosts`, which keeps every shard within one object of
the others. Nothing in Driftline may depend on which host gets which key.

Names: containers of one job reach each other by host name (`algo-1` resolves on the container network;
sagemaker-xgboost-container's distributed.py waits for it and starts its tracker there on port 9099,
since "SageMaker Training instances are single tenant"). Locally every host is a process on one machine:
each host of a job gets its own loopback address (127.a.b.<host>, distinct per job), so a fixed port
such as 9099 is free on every host, and the job's Python resolves `algo-N` to it through a
`sitecustomize` shim the local cloud puts on the job's path (the stand-in for the container network's
DNS; the job's own code is not changed). A name resolved outside Python (a C library's own lookup) is
not covered: Driftline's jobs resolve host names in Python and hand addresses to XGBoost. A job restarted
after a spot interruption runs on new instances, with new addresses (the old ones may still hold ports).

CPUs: on AWS each host is an instance with its own cores. Locally the hosts of a multi-instance job share
the machine, so each host process is pinned to its share of the CPUs (`cpu_shares`) and its SM_NUM_CPUS
says how many it has; without that, N hosts each running as many threads as the machine has cores
oversubscribe it, and XGBoost's spinning threads slow a distributed round down ~50x (measured here).
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import client, fetch_object, split_s3_uri

GROUP = "homogeneousCluster"
NETWORK_INTERFACE = "eth0"
HOSTS_VARIABLE = "DRIFTLINE_LOCAL_CONTAINER_HOSTS"  # read only by the shim below, never by job code

_SHIM = '''"""Local cloud: the container network's host names (algo-1, ...) for this job's processes."""
import json as _json
import os as _os
import socket as _socket

_HOSTS = _json.loads(_os.environ.get("{variable}") or "{}")
if _HOSTS:
    _getaddrinfo, _gethostbyname, _gethostbyname_ex = (
        _socket.getaddrinfo, _socket.gethostbyname, _socket.gethostbyname_ex
    )

    def getaddrinfo(host, *args, **kwargs):
        return _getaddrinfo(_HOSTS.get(host, host), *args, **kwargs)

    def gethostbyname(host):
        return _HOSTS.get(host) or _gethostbyname(host)

    def gethostbyname_ex(host):
        if host in _HOSTS:
            return host, [], [_HOSTS[host]]
        return _gethostbyname_ex(host)

    _socket.getaddrinfo, _socket.gethostbyname, _socket.gethostbyname_ex = (
        getaddrinfo, gethostbyname, gethostbyname_ex
    )
'''.replace("{variable}", HOSTS_VARIABLE)


def host_names(count: int) -> list[str]:
    """`algo-1` .. `algo-<count>`, sorted lexicographically as SageMaker lists them."""
    return sorted(f"algo-{index}" for index in range(1, max(1, count) + 1))


def addresses(ctx: LocalCloudContext, job_number: int, hosts: list[str]) -> dict[str, str]:
    """A loopback address per host, distinct per job of this local cloud (127.a.b.<instance number>)."""
    block = (zlib.crc32(str(ctx.workdir).encode()) + job_number) % (200 * 250)
    a, b = 20 + block // 250, block % 250
    return {host: f"127.{a}.{b}.{int(host.rsplit('-', 1)[1])}" for host in hosts}


def cpu_shares(count: int) -> list[set[int]]:
    """The machine's CPUs dealt to `count` hosts (each an instance with its own cores on AWS); shared if too few."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if count <= len(cpus):
        return [set(cpus[index::count]) for index in range(count)]
    return [{cpus[index % len(cpus)]} for index in range(count)]


def network_env(ctx: LocalCloudContext, names: dict[str, str]) -> dict[str, str]:
    """Environment that lets a job's Python resolve its hosts' names (the shim on PYTHONPATH)."""
    shim_dir = ctx.workdir / "container-network"
    shim = shim_dir / "sitecustomize.py"
    if not shim.is_file() or shim.read_text() != _SHIM:
        shim_dir.mkdir(parents=True, exist_ok=True)
        temporary = shim.with_suffix(".tmp")
        temporary.write_text(_SHIM)
        temporary.replace(shim)
    return {"PYTHONPATH": str(shim_dir), HOSTS_VARIABLE: json.dumps(names, sort_keys=True)}


def training_resource_config(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP,
        "hosts": hosts,
        "instance_groups": [{"instance_group_name": GROUP, "instance_type": instance_type, "hosts": hosts}],
        "network_interface_name": NETWORK_INTERFACE,
    }


def processing_resource_config(host: str, hosts: list[str]) -> dict[str, Any]:
    return {"current_host": host, "hosts": hosts}


def training_env(host: str, hosts: list[str], instance_type: str) -> dict[str, str]:
    """The toolkit's per-host variables (environment.py `Environment` properties as SM_* names)."""
    return {
        "SM_CURRENT_HOST": host,
        "SM_HOSTS": json.dumps(hosts),
        "SM_NETWORK_INTERFACE_NAME": NETWORK_INTERFACE,
        "SM_CURRENT_INSTANCE_TYPE": instance_type,
        "SM_CURRENT_INSTANCE_GROUP": GROUP,
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": json.dumps(hosts),
        "SM_INSTANCE_GROUPS": json.dumps([GROUP]),
        "SM_INSTANCE_GROUPS_DICT": json.dumps(
            {GROUP: {"instance_group_name": GROUP, "instance_type": instance_type, "hosts": hosts}}
        ),
        "SM_DISTRIBUTION_INSTANCE_GROUPS": "[]",
        "SM_IS_HETERO": "false",
    }


def training_env_summary(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    """The per-host keys of SM_TRAINING_ENV (the toolkit's `dict(Environment())`)."""
    return {
        "current_host": host,
        "hosts": hosts,
        "master_hostname": hosts[0],
        "is_master": host == hosts[0],
        "network_interface_name": NETWORK_INTERFACE,
        "current_instance_type": instance_type,
        "current_instance_group": GROUP,
        "current_instance_group_hosts": hosts,
        "instance_groups": [GROUP],
        "is_hetero": False,
    }


def shard(items: list[str], hosts: list[str], host: str) -> list[str]:
    """ShardedByS3Key: the host's share of `items` (already in S3 key order), dealt round-robin."""
    position = hosts.index(host)
    return items[position :: len(hosts)]


def list_objects(ctx: LocalCloudContext, uri: str, role_arn: str | None) -> list[tuple[str, str]]:
    """(key, path relative to the channel) of every object an S3Prefix names, in S3 key order."""
    bucket, prefix = split_s3_uri(uri)
    s3 = client(ctx, "s3", role_arn)
    found: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            rel = key[len(prefix) :].lstrip("/") if key != prefix else key.rsplit("/", 1)[-1]
            if rel:
                found.append((key, rel))
    return found


def stage_prefix(
    ctx: LocalCloudContext, uri: str, dest: Path, role_arn: str | None, hosts: list[str], host: str, sharded: bool
) -> tuple[int, list[Path]]:
    """Download the host's objects of an S3Prefix input into `dest`: (objects under the prefix, files written)."""
    bucket, _ = split_s3_uri(uri)
    objects = list_objects(ctx, uri, role_arn)
    chosen = dict(objects)
    if sharded:
        keys = shard([key for key, _ in objects], hosts, host)
        chosen = {key: chosen[key] for key in keys}
    return len(objects), _download(ctx, bucket, chosen, dest, role_arn)


def stage_manifest(
    ctx: LocalCloudContext, uri: str, dest: Path, role_arn: str | None, hosts: list[str], host: str, sharded: bool
) -> tuple[int, list[Path]]:
    """S3DataType ManifestFile (`[{"prefix": ...}, "rel", ...]`), its entries sharded like keys."""
    bucket, key = split_s3_uri(uri)
    manifest = json.loads(client(ctx, "s3", role_arn).get_object(Bucket=bucket, Key=key)["Body"].read())
    prefix, entries = manifest[0]["prefix"], [str(rel) for rel in manifest[1:]]
    chosen = shard(entries, hosts, host) if sharded else entries
    written: list[Path] = []
    for rel in chosen:
        object_bucket, object_key = split_s3_uri(prefix + rel)
        written += _download(ctx, object_bucket, {object_key: rel}, dest, role_arn)
    return len(entries), written


def _download(
    ctx: LocalCloudContext, bucket: str, keys: dict[str, str], dest: Path, role_arn: str | None
) -> list[Path]:
    s3 = client(ctx, "s3", role_arn)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, rel in keys.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fetch_object(s3, bucket, key, target)
        written.append(target)
    return written

"""The per-host contract of a multi-instance job: SageMaker's host order and the ShardedByS3Key partition."""

from __future__ import annotations

from driftline_local.sagemaker import cluster


def test_hosts_are_listed_lexicographically_as_sagemaker_lists_them():
    assert cluster.host_names(11)[:4] == ["algo-1", "algo-10", "algo-11", "algo-2"]
    assert cluster.host_names(1) == ["algo-1"]


def test_sharded_keys_are_a_balanced_partition_across_the_hosts():
    hosts = cluster.host_names(3)
    keys = [f"train/part-{index:03d}.csv" for index in range(10)]

    shares = [cluster.shard(keys, hosts, host) for host in hosts]

    assert sorted(key for share in shares for key in share) == keys
    assert sum(len(share) for share in shares) == len(keys)  # disjoint
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_every_host_of_a_job_has_its_own_address_and_jobs_do_not_share_them(tmp_path):
    class Ctx:
        workdir = tmp_path

    hosts = cluster.host_names(3)
    first, second = cluster.addresses(Ctx, 1, hosts), cluster.addresses(Ctx, 2, hosts)  # type: ignore[arg-type]

    assert len(set(first.values())) == 3
    assert not set(first.values()) & set(second.values())
    assert all(address.startswith("127.") for address in first.values())


def test_training_resource_config_names_the_host_and_all_hosts():
    config = cluster.training_resource_config("algo-2", ["algo-1", "algo-2"], "ml.m5.large")

    assert config["current_host"] == "algo-2"
    assert config["hosts"] == config["instance_groups"][0]["hosts"] == ["algo-1", "algo-2"]
    assert config["network_interface_name"] == "eth0"

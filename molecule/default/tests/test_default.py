"""Verify the embedded default (playbooks/site.yml on gpu-node-1) against the live host."""
import json
import os
import subprocess

import pytest

testinfra_hosts = ["ansible://all"]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_systemd_running(host):
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state in ("running", "degraded"), state


def test_local_fact_records_the_run(host):
    fact = host.file("/etc/ansible/facts.d/aisec.fact")
    assert fact.exists and fact.user == "root" and fact.mode == 0o644
    data = json.loads(fact.content_string)
    assert data["collection"] == "aisec.gpu_host"
    assert data["collection_version"] == "0.1.0"
    assert data["platform"].startswith("Debian 12")
    # No GPU in the test host: the inventory says so instead of failing.
    assert data["gpu"]["present"] is False
    assert data["gpu"]["gpu_count"] == 0


def test_local_fact_is_read_back_by_ansible(host):
    local = host.ansible("setup", "gather_subset=!all,local", check=False)["ansible_facts"]["ansible_local"]
    assert local["aisec"]["collection"] == "aisec.gpu_host"


def test_firewall_table_is_live_and_persisted(host):
    table = host.run("nft list table inet aisec")
    assert table.rc == 0, table.stderr
    assert "policy drop" in table.stdout
    assert "set blocklist_v4" in table.stdout or "blocklist" in table.stdout
    # Own table only: the stock config's `flush ruleset` is never loaded for boot.
    conf = host.file("/etc/nftables.conf").content_string.splitlines()
    assert not [line for line in conf if line.strip().startswith("flush")], conf
    assert 'include "/etc/nftables.d/aisec.nft"' in conf


def _site(*extra):
    env = dict(os.environ)
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    cmd = ["ansible-playbook", "-i", inventory, os.path.join(ROOT, "playbooks", "site.yml"), *extra]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["-e", "common_gpu_facts_gather=['driver','bogus']"], "common_gpu_facts_gather"),
        (["-e", "common_local_fact=maybe"], "common_local_fact"),
        (["-e", "firewall_egress_policy=dropp"], "firewall_egress_policy"),
    ],
)
def test_wrong_variable_fails_before_any_change(host, extra, expected):
    before = host.file("/etc/ansible/facts.d/aisec.fact").sha256sum
    result = _site(*extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert expected in out, out
    assert "Validating arguments against arg spec" in out, out
    # Failed in the pre-flight play: the hardening play never started.
    assert "PLAY [Harden GPU inference hosts]" not in out, out
    assert host.file("/etc/ansible/facts.d/aisec.fact").sha256sum == before

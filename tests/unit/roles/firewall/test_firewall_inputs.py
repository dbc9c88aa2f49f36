# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of roles/firewall/files/firewall_inputs.py (the target-side input checker)."""
from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "firewall", "files", "firewall_inputs.py")
_spec = importlib.util.spec_from_file_location("firewall_inputs", SCRIPT)
fi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fi)

NO_PROC = "/nonexistent-proc"


def preflight(admin=("10.0.0.0/24",), ssh_ports=(22,), blocklist=(), ssh_connection=None,
              networks=None, ports=None, controller_address=""):
    data = {
        "mode": "preflight",
        "networks": {"firewall_admin_cidrs": list(admin), "firewall_blocklist": list(blocklist)},
        "ports": {"firewall_ssh_ports": list(ssh_ports)},
        "entries": {},
        "controller_address": controller_address,
    }
    data["networks"].update(networks or {})
    data["ports"].update(ports or {})
    environ = {"SSH_CONNECTION": ssh_connection} if ssh_connection else {}
    return fi.run(data, environ, NO_PROC)


@pytest.mark.parametrize("value,expected", [
    ("10.1.2.3", "10.1.2.3/32"),
    ("10.1.2.0/24", "10.1.2.0/24"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("2001:db8::1", "2001:db8::1/128"),
    ("2001:DB8::/32", "2001:db8::/32"),
    ("::/0", "::/0"),
])
def test_parse_network_valid(value, expected):
    net, reason = fi.parse_network(value)
    assert reason is None and str(net) == expected


@pytest.mark.parametrize("value,fragment", [
    ("10.1.2.3/24", "host bits set (did you mean 10.1.2.0/24"),
    ("2001:db8::1/64", "host bits set"),
    ("example.com", "host names are not accepted"),
    ("10.1.2.300", "not an IPv4/IPv6"),
    ("10.0.0.0/33", "not an IPv4/IPv6"),
    (" 10.0.0.1", "whitespace"),
    ("", "empty"),
    (10, "not a string"),
    (True, "not a string"),
    (None, "not a string"),
])
def test_parse_network_invalid(value, fragment):
    net, reason = fi.parse_network(value)
    assert net is None and fragment in reason


@pytest.mark.parametrize("value,ok", [
    (22, True), (1, True), (65535, True), (0, False), (65536, False), (-1, False),
    ("443", True), ("8000-8010", True), ("8010-8000", False), ("0-10", False), ("1-65536", False),
    ("80,443", False), ("http", False), (True, False), (None, False), (22.0, False), ([22], False),
])
def test_check_port(value, ok):
    assert (fi.check_port(value) is None) is ok


@pytest.mark.parametrize("ports,port,expected", [
    ([22], 22, True), (["22"], 22, True), (["2200-2300"], 2222, True), ([22, 2222], 2200, False),
    ([True], 1, False), (["bad"], 22, False), ([], 22, False),
])
def test_port_contains(ports, port, expected):
    assert fi.port_contains(ports, port) is expected


def test_check_entries_accepts_good_entries():
    errors = []
    fi.check_entries("firewall_input_allow", [
        {"name": "nccl", "cidrs": ["10.1.0.0/16", "fd00::/8"], "ports": [29500, "30000-30100"], "protocols": ["tcp", "udp"]},
        {"name": "peer_2", "cidrs": ["10.2.0.1"], "ports": [443]},
    ], errors)
    assert errors == []


@pytest.mark.parametrize("entries,fragment", [
    ("nope", "must be a list"),
    (["x"], "must be a dictionary"),
    ([{"name": "Bad-Name", "cidrs": ["10.0.0.1"], "ports": [1]}], "must match"),
    ([{"name": "a" * 17, "cidrs": ["10.0.0.1"], "ports": [1]}], "must match"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [1]}, {"name": "a", "cidrs": ["10.0.0.2"], "ports": [2]}], "duplicate name"),
    ([{"name": "a", "cidrs": [], "ports": [1]}], "cidrs must not be empty"),
    ([{"name": "a", "ports": [1]}], "cidrs must be a list"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": []}], "ports must not be empty"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [70000]}], "outside 1-65535"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [1], "protocols": ["icmp"]}], "protocols must be"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [1], "protocols": []}], "protocols must be"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [1], "protocols": ["tcp", "tcp"]}], "protocols must be"),
    ([{"name": "a", "cidrs": ["10.0.0.1"], "ports": [1], "proto": "tcp"}], "unknown keys proto"),
    ([{"name": "a", "cidrs": ["host.example"], "ports": [1]}], "firewall_x[a].cidrs: host.example"),
])
def test_check_entries_rejects(entries, fragment):
    errors = []
    fi.check_entries("firewall_x", entries, errors)
    assert any(fragment in error for error in errors), errors


def test_preflight_collects_every_error_with_its_variable():
    result = preflight(admin=["10.0.0.1/8"], ssh_ports=[0],
                       networks={"firewall_client_cidrs": ["client.example"]},
                       ports={"firewall_metrics_ports": ["9100-9000"]})
    joined = "; ".join(result["errors"])
    assert "firewall_admin_cidrs: 10.0.0.1/8 has host bits set" in joined
    assert "firewall_ssh_ports: 0 is outside" in joined
    assert "firewall_client_cidrs: client.example" in joined
    assert "firewall_metrics_ports: 9100-9000 is an empty range" in joined


def test_preflight_controller_inside_admin_list():
    result = preflight(ssh_connection="10.0.0.5 50000 10.0.0.10 22")
    assert result["errors"] == [] and result["lockout"] == []
    assert result["controller"] == {"address": "10.0.0.5", "port": 22, "source": "SSH_CONNECTION"}


@pytest.mark.parametrize("kwargs,fragment", [
    ({"admin": ["10.9.0.0/16"]}, "not inside firewall_admin_cidrs"),
    ({"admin": ["2001:db8::/32"]}, "not inside firewall_admin_cidrs"),
    ({"blocklist": ["10.0.0.5"]}, "inside firewall_blocklist"),
    ({"ssh_ports": [2222]}, "SSH port 22, which is not in firewall_ssh_ports"),
])
def test_preflight_refuses_lockout(kwargs, fragment):
    result = preflight(ssh_connection="10.0.0.5 50000 10.0.0.10 22", **kwargs)
    assert any(fragment in item for item in result["lockout"]), result


def test_preflight_ssh_port_range_counts():
    assert preflight(ssh_ports=["2200-2300"], ssh_connection="10.0.0.5 1 10.0.0.10 2222")["lockout"] == []


def test_preflight_ipv6_and_mapped_controller():
    result = preflight(admin=["2001:db8::/64"], ssh_connection="2001:db8::7 50000 2001:db8::10 22")
    assert result["lockout"] == []
    result = preflight(admin=["10.0.0.0/24"], ssh_connection="::ffff:10.0.0.7 50000 ::ffff:10.0.0.10 22")
    assert result["lockout"] == [] and result["controller"]["address"] == "10.0.0.7"
    result = preflight(admin=["fe80::/10"], ssh_connection="fe80::1%eth0 50000 fe80::2%eth0 22")
    assert result["lockout"] == [] and result["controller"]["address"] == "fe80::1"


def test_preflight_override_address():
    result = preflight(admin=["10.0.0.0/24"], controller_address="10.9.9.9",
                       ssh_connection="10.0.0.5 50000 10.0.0.10 22")
    assert result["controller"]["source"] == "firewall_controller_address"
    assert any("10.9.9.9" in item for item in result["lockout"])
    bad = preflight(controller_address="10.0.0.0/24")
    assert any("firewall_controller_address" in error for error in bad["errors"])


def test_preflight_without_controller_address_checks_nothing():
    result = preflight(admin=["10.9.0.0/16"])
    assert result["lockout"] == [] and result["controller"]["address"] is None


@pytest.mark.parametrize("value", ["garbage", "10.0.0.5 1 10.0.0.10 ssh", "not-an-ip 1 2 3"])
def test_malformed_ssh_connection_is_ignored(value):
    assert preflight(admin=["10.9.0.0/16"], ssh_connection=value)["controller"]["address"] is None


def write_proc(root, pid, ppid, environ):
    os.makedirs(os.path.join(root, str(pid)), exist_ok=True)
    with open(os.path.join(root, str(pid), "environ"), "wb") as handle:
        handle.write(b"\0".join(environ) + b"\0")
    with open(os.path.join(root, str(pid), "stat"), "wb") as handle:
        handle.write(("%s (py (thon) S %d 1 1" % (pid, ppid)).encode())


def test_ssh_connection_found_in_an_ancestor_after_sudo(tmp_path):
    """sudo resets the environment; the SSH session that started the module still has the variable."""
    root = str(tmp_path)
    write_proc(root, 300, 200, [b"PATH=/usr/bin", b"SUDO_USER=ops"])
    write_proc(root, 200, 100, [b"HOME=/root"])
    write_proc(root, 100, 50, [b"USER=ops", b"SSH_CONNECTION=10.0.0.5 50000 10.0.0.10 22"])
    assert fi.ssh_connection_from_ancestors(root, 300) == "10.0.0.5 50000 10.0.0.10 22"
    data = {"networks": {"firewall_admin_cidrs": ["10.0.0.0/24"]}, "ports": {"firewall_ssh_ports": [22]}}
    write_proc(root, "self", 300, [b"PATH=/usr/bin"])
    assert fi.preflight(data, {}, root)["controller"]["address"] == "10.0.0.5"


def test_ancestor_walk_stops_at_init_and_on_errors(tmp_path):
    root = str(tmp_path)
    write_proc(root, 300, 1, [b"PATH=/usr/bin"])
    assert fi.ssh_connection_from_ancestors(root, 300) == ""
    assert fi.ssh_connection_from_ancestors(root, 999) == ""
    write_proc(root, 400, 400, [b"PATH=/usr/bin"])
    assert fi.ssh_connection_from_ancestors(root, 400, max_depth=3) == ""


def emergency(action, addresses=(), current=None, ssh_connection="10.0.0.5 50000 10.0.0.10 22"):
    data = {"mode": "emergency", "action": action, "addresses": list(addresses),
            "current": current or {"blocklist": [], "lockdown": False}}
    return fi.run(data, {"SSH_CONNECTION": ssh_connection} if ssh_connection else {}, NO_PROC)


def test_emergency_block_normalises_sorts_and_dedups():
    result = emergency("block", ["2001:db8::1", "203.0.113.7", "198.51.100.0/24"],
                       current={"blocklist": ["203.0.113.7/32"], "lockdown": False})
    assert result["errors"] == [] and result["lockout"] == []
    assert result["state"] == {"blocklist": ["198.51.100.0/24", "203.0.113.7/32", "2001:db8::1/128"], "lockdown": False}


def test_emergency_unblock_reports_addresses_it_did_not_hold():
    result = emergency("unblock", ["203.0.113.7", "192.0.2.1"],
                       current={"blocklist": ["203.0.113.7/32", "198.51.100.0/24"], "lockdown": True})
    assert result["state"] == {"blocklist": ["198.51.100.0/24"], "lockdown": True}
    assert result["not_blocked"] == ["192.0.2.1/32"]


def test_emergency_lockdown_and_release_keep_the_block_list():
    current = {"blocklist": ["203.0.113.7/32"], "lockdown": False}
    assert emergency("lockdown", current=current)["state"] == {"blocklist": ["203.0.113.7/32"], "lockdown": True}
    current["lockdown"] = True
    assert emergency("release", current=current)["state"] == {"blocklist": ["203.0.113.7/32"], "lockdown": False}
    assert emergency("status", current=current)["state"] == current


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["10.0.0.0/8"], ["0.0.0.0/0"]])
def test_emergency_refuses_to_block_the_controller(addresses):
    result = emergency("block", addresses)
    assert result["lockout"] and "cut off the controller" in result["lockout"][0]


def test_emergency_blocking_another_family_is_fine():
    assert emergency("block", ["::/0"])["lockout"] == []


@pytest.mark.parametrize("action,addresses,fragment", [
    ("block", [], "at least one address"),
    ("unblock", [], "at least one address"),
    ("lockdown", ["10.1.1.1"], "only used with block/unblock"),
    ("block", ["10.1.1.1/8"], "host bits set"),
    ("explode", [], "must be one of"),
])
def test_emergency_rejects_bad_requests(action, addresses, fragment):
    result = emergency(action, addresses)
    assert any(fragment in error for error in result["errors"]), result
    if action == "block" and addresses:
        assert result["state"]["blocklist"] == []


def test_emergency_rejects_a_corrupt_state_file():
    result = emergency("status", current={"blocklist": ["bogus"], "lockdown": False})
    assert any("emergency state file" in error for error in result["errors"])


def test_unknown_mode():
    assert fi.run({"mode": "other"}, {}, NO_PROC)["errors"]


@pytest.mark.parametrize("payload,fragment", [
    ("{not json", "invalid AISEC_FW_INPUT"),
    ("[1, 2]", "not a JSON object"),
])
def test_main_rejects_bad_input(payload, fragment, capsys, monkeypatch):
    monkeypatch.setenv("AISEC_FW_INPUT", payload)
    assert fi.main() == 0
    assert fragment in json.loads(capsys.readouterr().out)["errors"][0]


def test_runs_as_the_role_runs_it():
    """The role pipes the file into "python3 -" and passes the input in the environment."""
    data = {"mode": "preflight", "networks": {"firewall_admin_cidrs": ["10.0.0.0/24"]},
            "ports": {"firewall_ssh_ports": [22]}, "entries": {}}
    env = {"AISEC_FW_INPUT": json.dumps(data), "SSH_CONNECTION": "10.0.0.5 1 10.0.0.10 22", "PATH": os.environ.get("PATH", "")}
    with open(SCRIPT, encoding="utf-8") as handle:
        proc = subprocess.run([sys.executable, "-"], input=handle.read(), capture_output=True, text=True, env=env, check=True)
    result = json.loads(proc.stdout)
    assert result["errors"] == [] and result["lockout"] == [] and result["controller"]["address"] == "10.0.0.5"


def test_covered_respects_the_address_family():
    nets = [ipaddress.ip_network("0.0.0.0/0")]
    assert fi.covered(ipaddress.ip_address("10.0.0.1"), nets)
    assert not fi.covered(ipaddress.ip_address("2001:db8::1"), nets)


# --- host state read by the pre-flight (ownership of /etc/nftables.conf, nftables installed) ---

MARKER = "Managed by aisec.gpu_host.firewall"


def test_file_state_absent(tmp_path):
    assert fi.file_state(str(tmp_path / "missing.conf"), MARKER) == {"exists": False, "sha256": None, "marker": False}


@pytest.mark.parametrize("content,marker", [
    (b"#!/usr/sbin/nft -f\n\nflush ruleset\n", False),
    (("# %s (templates/nftables.conf.j2). Control: AISEC-NET-05.\ninclude \"x\"\n" % MARKER).encode(), True),
    (b"x" * 65530 + MARKER.encode() + b"\n", True),  # the marker spans the 64 KiB read boundary
    (b"# Managed by aisec.gpu_host\n", False),
])
def test_file_state_sha256_and_marker(tmp_path, content, marker):
    path = tmp_path / "nftables.conf"
    path.write_bytes(content)
    state = fi.file_state(str(path), MARKER)
    assert state == {"exists": True, "sha256": hashlib.sha256(content).hexdigest(), "marker": marker}


def test_file_state_unreadable_counts_as_foreign(tmp_path):
    path = tmp_path / "nftables.conf"
    path.mkdir()  # exists, but cannot be read as a file: neither stock nor the role's
    assert fi.file_state(str(path), MARKER) == {"exists": True, "sha256": None, "marker": False}


def _fake_dpkg_query(tmp_path, status, rc=0):
    script = tmp_path / "dpkg-query"
    script.write_text("#!/bin/sh\nprintf '%%s' '%s'\nexit %d\n" % (status, rc))
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("status,rc,expected", [
    ("install ok installed", 0, True),
    ("deinstall ok config-files", 0, False),
    ("install ok half-configured", 0, False),
    ("", 1, False),
])
def test_package_installed_from_dpkg(tmp_path, status, rc, expected):
    assert fi.package_installed("nftables", dpkg_query=_fake_dpkg_query(tmp_path, status, rc)) is expected


def test_package_installed_without_dpkg_looks_for_nft(tmp_path):
    nft = tmp_path / "nft"
    assert not fi.package_installed("nftables", dpkg_query=str(tmp_path / "none"), nft_paths=(str(nft),))
    nft.write_text("")
    assert fi.package_installed("nftables", dpkg_query=str(tmp_path / "none"), nft_paths=(str(nft),))


def test_preflight_reports_host_state_only_when_asked(tmp_path):
    conf = tmp_path / "nftables.conf"
    conf.write_text("flush ruleset\n")
    assert "host" not in preflight()
    data = {"mode": "preflight", "networks": {"firewall_admin_cidrs": ["10.0.0.0/24"]},
            "ports": {"firewall_ssh_ports": [22]}, "entries": {},
            "host": {"nftables_conf": str(conf), "marker": MARKER, "package": "nftables"}}
    host = fi.run(data, {}, NO_PROC)["host"]
    assert host["nftables_conf"] == {"exists": True, "sha256": hashlib.sha256(b"flush ruleset\n").hexdigest(), "marker": False}
    assert isinstance(host["nftables_installed"], bool)

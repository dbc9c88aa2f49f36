# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the firewall role's input checks, lock-out check, plan and emergency requests
(plugins/module_utils/firewall_plan.py), the controller address reader (host_state.ssh_client) and the table
comparison of the firewall_info and nft_table modules (module_utils/nft.py)."""
from __future__ import annotations

import copy
import hashlib
import ipaddress
import os

import pytest
import yaml

from ansible_collections.aisec.gpu_host.plugins.module_utils import firewall_plan as fp
from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state
from ansible_collections.aisec.gpu_host.plugins.module_utils import nft

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
with open(os.path.join(ROOT, "roles", "firewall", "defaults", "main.yml"), encoding="utf-8") as _handle:
    DEFAULTS = yaml.safe_load(_handle)
NO_PROC = "/nonexistent-proc"
MARKER = "Managed by aisec.gpu_host.firewall"


def variables(**overrides):
    v = copy.deepcopy(DEFAULTS)
    v.update(firewall_admin_cidrs=["10.0.0.0/24"])
    v.update(overrides)
    return v


def desired(**overrides):
    return fp.desired(variables(**overrides))


def controller(ssh_connection):
    return host_state.ssh_client({"SSH_CONNECTION": ssh_connection} if ssh_connection else {}, NO_PROC)


def lockout(ssh_connection="10.0.0.5 50000 10.0.0.10 22", **overrides):
    return fp.lockout(desired(**overrides), controller(ssh_connection))


@pytest.mark.parametrize("value,expected", [
    ("10.1.2.3", "10.1.2.3/32"),
    ("10.1.2.0/24", "10.1.2.0/24"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("2001:db8::1", "2001:db8::1/128"),
    ("2001:DB8::/32", "2001:db8::/32"),
    ("::/0", "::/0"),
    # IPv4-mapped IPv6 (issue #13 finding 5): an IPv4 peer never matches the IPv6 set, so they become IPv4
    ("::ffff:203.0.113.7", "203.0.113.7/32"),
    ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
    ("::ffff:0:0/96", "0.0.0.0/0"),
])
def test_parse_network_valid(value, expected):
    net, reason = fp.parse_network(value)
    assert reason is None and str(net) == expected


@pytest.mark.parametrize("value,fragment", [
    ("10.1.2.3/24", "host bits set (did you mean 10.1.2.0/24"),
    ("2001:db8::1/64", "host bits set"),
    ("example.com", "host names are not accepted"),
    ("10.1.2.300", "not an IPv4/IPv6"),
    ("10.0.0.0/33", "not an IPv4/IPv6"),
    (" 10.0.0.1", "whitespace"),
    ("10.0.0.1\n", "whitespace"),
    ("10.0.0.1;", "not an IPv4/IPv6"),
    ("", "empty"),
    (10, "not a string"),
    (True, "not a string"),
    (None, "not a string"),
])
def test_parse_network_invalid(value, fragment):
    net, reason = fp.parse_network(value)
    assert net is None and fragment in reason


@pytest.mark.parametrize("value,ok", [
    (22, True), (1, True), (65535, True), (0, False), (65536, False), (-1, False),
    ("443", True), ("8000-8010", True), ("8010-8000", False), ("0-10", False), ("1-65536", False),
    ("80,443", False), ("http", False), (True, False), (None, False), (22.0, False), ([22], False),
    ("22\n", False), ("22 ", False),
])
def test_port_text(value, ok):
    text, reason = fp.port_text(value)
    assert (reason is None) is ok and (text is not None) is ok


@pytest.mark.parametrize("ports,port,expected", [
    (["22"], 22, True), (["2200-2300"], 2222, True), (["22", "2222"], 2200, False), ([], 22, False),
])
def test_port_contains(ports, port, expected):
    assert fp.port_contains(ports, port) is expected


def test_check_entries_accepts_good_entries():
    errors = []
    out = fp.check_entries("firewall_input_allow", [
        {"name": "nccl", "cidrs": ["10.1.0.0/16", "fd00::/8"], "ports": [29500, "30000-30100"], "protocols": ["tcp", "udp"]},
        {"name": "peer_2", "cidrs": ["10.2.0.1"], "ports": [443]},
    ], errors)
    assert errors == []
    assert out[0] == {"name": "nccl", "ports": ["29500", "30000-30100"], "protocols": ["tcp", "udp"],
                      "v4": ["10.1.0.0/16"], "v6": ["fd00::/8"]}


@pytest.mark.parametrize("entries,fragment", [
    ("nope", "must be a list"),
    (["x"], "must be a dictionary"),
    ([{"name": "Bad-Name", "cidrs": ["10.0.0.1"], "ports": [1]}], "must match"),
    ([{"name": "a" * 17, "cidrs": ["10.0.0.1"], "ports": [1]}], "must match"),
    ([{"name": "a\n", "cidrs": ["10.0.0.1"], "ports": [1]}], "must match"),
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
    fp.check_entries("firewall_x", entries, errors)
    assert any(fragment in error for error in errors), errors


def test_desired_collects_every_error_with_its_variable():
    joined = "; ".join(desired(firewall_admin_cidrs=["10.0.0.1/8"], firewall_ssh_ports=[0],
                               firewall_client_cidrs=["client.example"], firewall_metrics_ports=["9100-9000"])["errors"])
    assert "firewall_admin_cidrs: 10.0.0.1/8 has host bits set" in joined
    assert "firewall_ssh_ports: 0 is outside" in joined
    assert "firewall_client_cidrs: client.example" in joined
    assert "firewall_metrics_ports: 9100-9000 is an empty range" in joined


@pytest.mark.parametrize("name,value", [
    ("firewall_log_prefix", 'fw" accept #'), ("firewall_log_prefix", "fw\nx"), ("firewall_log_prefix", "a" * 25),
    ("firewall_log_rate", "10/second; accept"), ("firewall_log_rate", "10/second\n"), ("firewall_icmp_rate", "fast"),
    ("firewall_log_level", "info; accept"), ("firewall_egress_policy", "dropp"), ("firewall_log_burst", "20"),
    ("firewall_container_interfaces", ['docker0" accept']), ("firewall_container_interfaces", ["a" * 16]),
    ("firewall_controller_address", "10.0.0.0/24"), ("firewall_confirm_timeout", 2),
    ("firewall_rollback_timeout", 20), ("firewall_admin_cidrs", []),
])
def test_values_written_into_the_ruleset_are_strict(name, value):
    assert any(name in e for e in desired(**{name: value})["errors"]), (name, value)


def test_desired_splits_and_converts_addresses():
    d = desired(firewall_admin_cidrs=["10.0.0.0/24", "::ffff:10.1.2.3", "2001:db8::/64"],
                firewall_blocklist=["::ffff:203.0.113.7", "203.0.113.7"],
                firewall_dns_servers=["10.0.0.53"], firewall_egress_allow=[
                    {"name": "hub", "cidrs": ["10.4.0.0/16"], "ports": [443]}])
    assert d["errors"] == []
    assert d["sets"]["admin"] == {"v4": ["10.0.0.0/24", "10.1.2.3/32"], "v6": ["2001:db8::/64"]}
    assert d["sets"]["blocklist"] == {"v4": ["203.0.113.7/32"], "v6": []}
    assert [e["set"] for e in d["egress"]] == ["eg_dns", "egu_hub"]
    assert d["egress"][0]["ports"] == ["53"] and d["egress"][0]["protocols"] == ["udp", "tcp"]


def test_controller_inside_admin_list():
    assert lockout() == []
    assert controller("10.0.0.5 50000 10.0.0.10 22") == {"address": "10.0.0.5", "port": 22}


@pytest.mark.parametrize("overrides,fragment", [
    ({"firewall_admin_cidrs": ["10.9.0.0/16"]}, "not inside firewall_admin_cidrs"),
    ({"firewall_admin_cidrs": ["2001:db8::/32"]}, "not inside firewall_admin_cidrs"),
    ({"firewall_blocklist": ["10.0.0.5"]}, "inside firewall_blocklist"),
    ({"firewall_blocklist": ["::ffff:10.0.0.5"]}, "inside firewall_blocklist"),
    ({"firewall_ssh_ports": [2222]}, "SSH port 22, which is not in firewall_ssh_ports"),
])
def test_lockout_refused(overrides, fragment):
    assert any(fragment in item for item in lockout(**overrides)), overrides


def test_ssh_port_range_counts():
    assert lockout("10.0.0.5 1 10.0.0.10 2222", firewall_ssh_ports=["2200-2300"]) == []


def test_ipv6_and_mapped_controller():
    assert lockout("2001:db8::7 50000 2001:db8::10 22", firewall_admin_cidrs=["2001:db8::/64"]) == []
    assert controller("::ffff:10.0.0.7 50000 ::ffff:10.0.0.10 22")["address"] == "10.0.0.7"
    assert lockout("::ffff:10.0.0.7 50000 ::ffff:10.0.0.10 22") == []
    assert controller("fe80::1%eth0 50000 fe80::2%eth0 22")["address"] == "fe80::1"
    assert lockout("fe80::1%eth0 50000 fe80::2%eth0 22", firewall_admin_cidrs=["fe80::/10"]) == []


def test_override_address():
    found = lockout(firewall_controller_address="10.9.9.9")
    assert any("10.9.9.9 (firewall_controller_address)" in item for item in found)


def test_without_controller_address_checks_nothing():
    assert lockout(None, firewall_admin_cidrs=["10.9.0.0/16"]) == []


@pytest.mark.parametrize("value", ["garbage", "10.0.0.5 1 10.0.0.10 ssh", "not-an-ip 1 2 3"])
def test_malformed_ssh_connection_is_ignored_or_refused(value):
    c = controller(value)
    found = fp.lockout(desired(firewall_admin_cidrs=["10.9.0.0/16"]), c)
    assert c["address"] is None or c["port"] is None or found


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
    assert host_state.ssh_connection_from_ancestors(root, 300) == "10.0.0.5 50000 10.0.0.10 22"
    write_proc(root, "self", 300, [b"PATH=/usr/bin"])
    assert host_state.ssh_client({}, root) == {"address": "10.0.0.5", "port": 22}


def test_ancestor_walk_stops_at_init_and_on_errors(tmp_path):
    root = str(tmp_path)
    write_proc(root, 300, 1, [b"PATH=/usr/bin"])
    assert host_state.ssh_connection_from_ancestors(root, 300) == ""
    assert host_state.ssh_connection_from_ancestors(root, 999) == ""
    write_proc(root, 400, 400, [b"PATH=/usr/bin"])
    assert host_state.ssh_connection_from_ancestors(root, 400, max_depth=3) == ""


def emergency(action, addresses=(), current=None, ssh_connection="10.0.0.5 50000 10.0.0.10 22", live=None):
    return fp.emergency({"action": action, "addresses": list(addresses)},
                        current or {"blocklist": [], "lockdown": "none"}, controller(ssh_connection), live)


def test_emergency_block_normalises_sorts_and_dedups():
    result = emergency("block", ["2001:db8::1", "203.0.113.7", "198.51.100.0/24", "::ffff:192.0.2.9"],
                       current={"blocklist": ["203.0.113.7/32"], "lockdown": "none"})
    assert result["errors"] == [] and result["lockout"] == []
    assert result["state"] == {"blocklist": ["192.0.2.9/32", "198.51.100.0/24", "203.0.113.7/32", "2001:db8::1/128"],
                               "lockdown": "none"}


def test_emergency_unblock_reports_addresses_it_did_not_hold():
    result = emergency("unblock", ["203.0.113.7", "192.0.2.1"],
                       current={"blocklist": ["203.0.113.7/32", "198.51.100.0/24"], "lockdown": True})
    assert result["state"] == {"blocklist": ["198.51.100.0/24"], "lockdown": "inbound"}
    assert result["not_blocked"] == ["192.0.2.1/32"]


def test_emergency_lockdown_modes_and_release_keep_the_block_list():
    current = {"blocklist": ["203.0.113.7/32"], "lockdown": "none"}
    assert emergency("lockdown", current=current)["state"] == {"blocklist": ["203.0.113.7/32"], "lockdown": "inbound"}
    assert emergency("full_lockdown", current=current)["state"]["lockdown"] == "full"
    current["lockdown"] = "full"
    assert emergency("release", current=current)["state"] == {"blocklist": ["203.0.113.7/32"], "lockdown": "none"}
    assert emergency("status", current=current)["state"] == current
    # state files of 0.1.0 recorded the lockdown as a boolean
    assert emergency("status", current={"blocklist": [], "lockdown": False})["state"]["lockdown"] == "none"


LIVE = ("table inet aisec {\n\tset admin_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/24 }\n"
        "\t}\n\tset ssh_ports {\n\t\ttype inet_service\n\t\tflags interval\n\t\telements = { 22 }\n\t}\n}\n")


def test_emergency_lockdown_keeps_the_controllers_path_of_the_live_table():
    assert emergency("lockdown", live=LIVE)["lockout"] == []
    outside = emergency("full_lockdown", ssh_connection="10.9.9.9 1 10.0.0.10 22", live=LIVE)["lockout"]
    assert outside and "would cut this controller off" in outside[0] and "live admin set" in outside[0]
    port = emergency("lockdown", ssh_connection="10.0.0.5 1 10.0.0.10 2222", live=LIVE)["lockout"]
    assert port and "live SSH port set" in port[0]


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["10.0.0.0/8"], ["0.0.0.0/0"], ["::ffff:10.0.0.5"]])
def test_emergency_refuses_to_block_the_controller(addresses):
    result = emergency("block", addresses)
    assert result["lockout"] and "cut off the controller" in result["lockout"][0]


def test_emergency_blocking_another_family_is_fine():
    assert emergency("block", ["::/0"])["lockout"] == []


@pytest.mark.parametrize("action,addresses,fragment", [
    ("block", [], "at least one address"),
    ("unblock", [], "at least one address"),
    ("lockdown", ["10.1.1.1"], "only used with block/unblock"),
    ("full_lockdown", ["10.1.1.1"], "only used with block/unblock"),
    ("block", ["10.1.1.1/8"], "host bits set"),
    ("explode", [], "must be one of"),
])
def test_emergency_rejects_bad_requests(action, addresses, fragment):
    result = emergency(action, addresses)
    assert any(fragment in error for error in result["errors"]), result
    if action == "block" and addresses:
        assert result["state"]["blocklist"] == []


def test_emergency_rejects_a_corrupt_state_file():
    result = emergency("status", current={"blocklist": ["bogus"], "lockdown": "none"})
    assert any("emergency state file" in error for error in result["errors"])
    result = emergency("status", current={"blocklist": [], "lockdown": "sometimes"})
    assert any("emergency state file" in error for error in result["errors"])


def test_covered_respects_the_address_family():
    nets = [ipaddress.ip_network("0.0.0.0/0")]
    assert fp._covered(ipaddress.ip_address("10.0.0.1"), nets)  # pylint: disable=protected-access
    assert not fp._covered(ipaddress.ip_address("2001:db8::1"), nets)  # pylint: disable=protected-access


# --- ownership of /etc/nftables.conf and the rest of the plan ---

STOCK = b"#!/usr/sbin/nft -f\n\nflush ruleset\n"


def conf_info(content, installed=True):
    files = {"/etc/nftables.conf": {"exists": content is not None}}
    contents = {"/etc/nftables.conf": content.decode() if content is not None else None}
    if content is not None:
        files["/etc/nftables.conf"].update(type="file", sha256=hashlib.sha256(content).hexdigest(), mode="0644",
                                           owner="root", group="root")
    return {"files": files, "contents": contents, "nft_installed": installed,
            "packages": {"nftables": "1.0.6-2" if installed else None}, "controller": {"address": None}}


@pytest.mark.parametrize("content,overwrite,ours", [
    (None, False, True),
    (STOCK, False, True),
    (("# %s (templates/nftables.conf.j2). Control: AISEC-NET-05.\ninclude \"x\"\n" % MARKER).encode(), False, True),
    (b"# local rules\ntable inet mine {}\n", False, False),
    (b"# local rules\ntable inet mine {}\n", True, True),
    (b"# Managed by aisec.gpu_host\n", False, False),
])
def test_conf_ownership(content, overwrite, ours):
    plan = fp.plan(conf_info(content), desired(), [], {}, (hashlib.sha256(STOCK).hexdigest(),), MARKER, overwrite)
    assert plan["conf_ours"] is ours


def test_plan_install_and_files():
    plan = fp.plan(conf_info(None, installed=False), desired(),
                   [{"path": "/etc/nftables.conf", "src": "nftables.conf.j2", "owner": "root", "group": "root",
                     "mode": "0644", "control": "AISEC-NET-05"}], {"nftables.conf.j2": "include x\n"}, (), MARKER)
    assert plan["install"] and plan["files"] == {"/etc/nftables.conf": ["missing"]}
    assert plan["files_controls"] == ["AISEC-NET-05"]


def test_packages_reader_with_a_fake_dpkg(tmp_path, monkeypatch):
    script = tmp_path / "dpkg-query"
    script.write_text("#!/bin/sh\nprintf 'nftables\\tii \\t1.0.6-2+deb12u2\\nsudo\\trc \\t1.9\\n'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    found = host_state.packages(["nftables", "sudo", "missing"])
    assert found == {"nftables": "1.0.6-2+deb12u2", "sudo": None, "missing": None}


# --- the table comparison, attributed per control ---

def listing(input_rules="", extra=""):
    return ("table inet aisec {\n"
            "\tset admin_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/24 }\n\t}\n\n"
            "\tset eg_dns_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n\n"
            "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n%s"
            "\t\ttcp dport 22 ip saddr @admin_v4 accept\n\t}\n\n"
            "\tchain output {\n\t\ttype filter hook output priority filter; policy drop;\n\t}\n%s}\n"
            % (input_rules, extra))


def test_a_rule_inserted_into_the_inbound_chain_is_inbound_drift_only():
    result = nft.compare(listing("\t\ttcp dport 4444 accept\n"), listing(), fp.OBJECT_CONTROLS, "AISEC-NET-01")
    assert result["changed"] and result["changed_objects"] == ["chain input"]
    assert result["changed_controls"] == ["AISEC-NET-01"]
    assert "-\t\ttcp dport 4444 accept" in result["diff"]


def test_objects_attributed_by_name_and_by_hook():
    extra = "\n\tchain sneaky {\n\t\ttype filter hook output priority filter - 1; policy accept;\n\t}\n"
    result = nft.compare(listing(extra=extra), listing(), fp.OBJECT_CONTROLS, "AISEC-NET-01")
    assert result["changed_objects"] == ["chain sneaky"] and result["changed_controls"] == ["AISEC-NET-02"]
    eg = listing().replace("set eg_dns_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n",
                           "set eg_dns_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 6.6.6.6 }\n")
    assert nft.compare(eg, listing(), fp.OBJECT_CONTROLS, "AISEC-NET-01")["changed_controls"] == ["AISEC-NET-02"]
    assert nft.compare(listing(), listing(), fp.OBJECT_CONTROLS)["changed"] is False
    absent = nft.compare(None, listing(), fp.OBJECT_CONTROLS, "AISEC-NET-01")
    assert absent["changed_controls"] == ["AISEC-NET-01", "AISEC-NET-02"] and "(absent)" in absent["diff"]


def test_set_elements_and_restorable():
    assert nft.set_elements(listing(), "admin_v4") == ["10.0.0.0/24"]
    assert nft.set_elements(listing(), "eg_dns_v4") == []
    assert nft.restorable("inet", "aisec", None).endswith("table inet aisec {}\ndelete table inet aisec\n")
    assert nft.restorable("inet", "aisec", listing()).startswith("table inet aisec {}\ndelete table inet aisec\ntable")

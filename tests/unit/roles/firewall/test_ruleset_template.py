# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the role's nftables templates for a matrix of configurations (one ansible-playbook run)
and load each result with the real nft into a scratch network namespace.

Needs ansible-playbook on PATH (the project's virtualenv); the nft checks need root, nft and
unshare and are skipped elsewhere.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ROLE = os.path.join(ROOT, "roles", "firewall")

BASE = {
    "firewall_admin_cidrs": ["10.0.0.0/24", "2001:db8:1::/64"],
    "firewall_client_cidrs": ["10.1.0.0/16"],
}
CASES = {
    "defaults": {},
    "full": {
        "firewall_monitoring_cidrs": ["10.2.0.5", "2001:db8:2::5"],
        "firewall_ssh_ports": [22, "2200-2210"],
        "firewall_inference_ports": [443, 8443],
        "firewall_input_allow": [{"name": "nccl", "cidrs": ["10.3.0.0/16", "2001:db8:3::/48"],
                                  "ports": [29500, "30000-30100"], "protocols": ["tcp", "udp"]}],
        "firewall_dns_servers": ["10.0.0.53", "2001:db8::53"],
        "firewall_ntp_servers": ["10.0.0.123"],
        "firewall_package_mirrors": ["10.0.9.0/24"],
        "firewall_log_collectors": ["10.0.8.1"],
        "firewall_csaf_sources": ["10.0.7.1"],
        "firewall_egress_allow": [{"name": "hub", "cidrs": ["10.4.0.0/16"], "ports": [443]},
                                  {"name": "dns", "cidrs": ["10.5.0.1"], "ports": [53], "protocols": ["udp"]}],
        "firewall_blocklist": ["192.0.2.0/24", "2001:db8:bad::/48", "192.0.2.7"],
        "firewall_container_interfaces": ["docker0", "br-*", "cni0"],
    },
    "egress_log_no_forward": {"firewall_egress_policy": "log", "firewall_container_forward": False},
    "egress_accept_no_logging": {"firewall_egress_policy": "accept", "firewall_log_enabled": False,
                                 "firewall_allow_dhcp": False},
    "ipv6_only_admin": {"firewall_admin_cidrs": ["2001:db8:1::/64"], "firewall_log_level": "warn",
                        "firewall_log_prefix": "gpu01.fw", "firewall_log_rate": "5/minute"},
}
EMERGENCY = {"blocklist": ["198.51.100.0/24", "203.0.113.7/32", "2001:db8:beef::/48"], "lockdown": True}

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - {role}/defaults/main.yml
    - {role}/vars/main.yml
  tasks:
    - name: Render the ruleset of each case
      ansible.builtin.copy:
        content: "{{{{ lookup('ansible.builtin.template', '{role}/templates/aisec.nft.j2', template_vars=item.value
          | combine({{'__firewall_desired': (lookup('ansible.builtin.file', '{role}/defaults/main.yml') | from_yaml
                                            | combine(item.value)) | aisec.gpu_host.firewall_desired}})) }}}}"
        dest: "{out}/{{{{ item.key }}}}.nft"
        mode: "0600"
      loop: "{{{{ cases | dict2items }}}}"
    - name: Render an emergency include (block list and lockdown)
      ansible.builtin.copy:
        content: "{{{{ lookup('ansible.builtin.template', '{role}/templates/emergency.nft.j2', template_vars={{'__firewall_emergency_new': emergency}}) }}}}"
        dest: "{out}/emergency.nft"
        mode: "0600"
    - name: Render the empty emergency include and nftables.conf
      ansible.builtin.copy:
        content: "{{{{ lookup('ansible.builtin.template', '{role}/templates/' ~ item.src) }}}}"
        dest: "{out}/{{{{ item.dest }}}}"
        mode: "0600"
      loop:
        - {{src: emergency.nft.j2, dest: emergency-empty.nft}}
        - {{src: nftables.conf.j2, dest: nftables.conf}}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    if not shutil.which("ansible-playbook") and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")):
        pytest.skip("ansible-playbook not available")
    out = tmp_path_factory.mktemp("rulesets")
    playbook = out / "render.yml"
    playbook.write_text(PLAYBOOK.format(role=ROLE, out=out))
    extra = out / "extra.json"
    extra.write_text(json.dumps({"cases": {name: dict(BASE, **case) for name, case in CASES.items()},
                                 "emergency": EMERGENCY,
                                 "ansible_python_interpreter": sys.executable}))
    binary = shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    proc = subprocess.run([binary, "-i", "localhost,", "-c", "local", "-e", "@%s" % extra, str(playbook)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def read(rendered, name):
    return (rendered / name).read_text()


def can_run_nft():
    return os.geteuid() == 0 and shutil.which("nft") and shutil.which("unshare") and \
        subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False).returncode == 0


needs_nft = pytest.mark.skipif(not can_run_nft(), reason="needs root, nft and unshare")


def nft_in_scratch_namespace(*files):
    """Load the files in order into a fresh network namespace; return the canonical listing."""
    script = " && ".join("nft -f %s" % f for f in files) + " && nft -s list table inet aisec"
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_ruleset_owns_only_its_table(rendered, case):
    text = read(rendered, case + ".nft")
    rules = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "flush ruleset" not in rules
    assert rules[:3] == ["table inet aisec {}", "delete table inet aisec", "table inet aisec {"]
    assert all(not line.startswith("table ") or "inet aisec" in line for line in rules)


@needs_nft
@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_ruleset_loads_and_reloads(rendered, case):
    path = str(rendered / (case + ".nft"))
    first = nft_in_scratch_namespace(path)
    # reloading the same file on top of the loaded table is atomic and gives the same table
    assert nft_in_scratch_namespace(path, path) == first
    assert "policy drop" in first.split("chain input", 1)[1].splitlines()[1]


@needs_nft
@pytest.mark.parametrize("case", sorted(CASES))
def test_listing_round_trips(rendered, case, tmp_path):
    """The rollback ruleset is the live table's listing: it must load back to the same table."""
    first = nft_in_scratch_namespace(str(rendered / (case + ".nft")), str(rendered / "emergency.nft"))
    assert "[invalid type]" not in first
    rollback = tmp_path / "rollback.nft"
    rollback.write_text("table inet aisec {}\ndelete table inet aisec\n" + first)
    assert nft_in_scratch_namespace(str(rollback)) == first


@needs_nft
def test_full_case_content(rendered):
    listing = nft_in_scratch_namespace(str(rendered / "full.nft"))
    for name in ("admin", "client", "monitoring", "blocklist", "inu_nccl", "eg_dns", "eg_ntp", "eg_mirror",
                 "eg_logs", "eg_csaf", "egu_hub", "egu_dns"):
        assert "set %s_v4 {" % name in listing and "set %s_v6 {" % name in listing
    # the block list merged 192.0.2.7 into 192.0.2.0/24
    assert "elements = { 192.0.2.0/24 }" in listing
    assert 'oifname "cni0" iifname != "docker0" iifname != "br-*" iifname != "cni0" jump container_in' in listing
    assert "elements = { 29500, 30000-30100 }" in listing.split("set inu_nccl_ports {", 1)[1].split("}", 1)[0] + "}"
    assert "meta l4proto udp ct original proto-dst @inu_nccl_ports ip saddr @inu_nccl_v4 accept" in listing
    assert "meta l4proto { tcp, udp } th dport @inu_nccl_ports ip6 saddr @inu_nccl_v6 accept" in listing
    assert "chain output {\n\t\ttype filter hook output priority filter; policy drop;" in listing
    assert 'log prefix "aisec-fw-out-drop: "' in listing


@needs_nft
def test_policy_variants(rendered):
    log = nft_in_scratch_namespace(str(rendered / "egress_log_no_forward.nft"))
    assert "hook forward" not in log and "policy accept" in log.split("chain output", 1)[1].splitlines()[1]
    assert 'log prefix "aisec-fw-out-audit: "' in log
    accept = nft_in_scratch_namespace(str(rendered / "egress_accept_no_logging.nft"))
    assert " log " not in accept and "udp dport 68" not in accept
    v6 = nft_in_scratch_namespace(str(rendered / "ipv6_only_admin.nft"))
    # "warn" is nft's default level and is not listed
    assert 'limit rate 5/minute burst 20 packets log prefix "gpu01.fw-in-drop: "\n' in v6


@needs_nft
def test_emergency_include_applies_on_top(rendered):
    listing = nft_in_scratch_namespace(str(rendered / "full.nft"), str(rendered / "emergency.nft"))
    assert "198.51.100.0/24" in listing and "2001:db8:beef::/48" in listing
    lockdown = listing.split("chain lockdown_in {", 1)[1].split("\n\t}", 1)[0]
    assert "ct direction reply return" in lockdown and "tcp dport @ssh_ports ip saddr @admin_v4 return" in lockdown
    empty = nft_in_scratch_namespace(str(rendered / "full.nft"), str(rendered / "emergency-empty.nft"))
    assert empty == nft_in_scratch_namespace(str(rendered / "full.nft"))


def test_nftables_conf_includes_only_the_role_files(rendered):
    conf = read(rendered, "nftables.conf")
    rules = [line for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    assert rules == ['include "/etc/nftables.d/aisec.nft"', 'include "/etc/nftables.d/aisec-emergency.nft"']

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml, remediate.yml, common.yml and awx_configure.yml without a managed host.

* Structure: audit.yml mirrors site.yml (same pre-flights, same roles, same order) with check mode and diff on
  every play; remediate.yml applies the same roles (patching pinned to report mode) in fail-fast batches.
* ``ansible-playbook --syntax-check`` of every playbook.
* audit.yml refuses to run without --check before any task touches a host.
* The drift gate (the last play of audit.yml), run after the compliance_report fixture play on two local hosts:
  it fails on drift naming the controls per host and publishes them with set_stats, and it refuses to gate
  without the callback's report.

The end-to-end run on a real host is tests/integration/drift/test_drift.py (docker).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
FIXTURE = os.path.join(ROOT, "tests", "integration", "compliance_report")
VENV_BIN = os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
ROLE_ORDER = ["aisec.gpu_host.common", "aisec.gpu_host.firewall", "aisec.gpu_host.access", "aisec.gpu_host.patching"]

needs_ansible = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook not next to the test python")


def load(name):
    with open(os.path.join(PLAYBOOKS, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def roles_of(play):
    return [r["role"] if isinstance(r, dict) else r for r in play.get("roles", []) or []]


def preflight_role_default():
    with open(os.path.join(ROOT, "roles", "preflight", "defaults", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["preflight_roles"]


def preflights_of(play):
    """The roles whose pre-flight a play runs: include_role ... tasks_from: preflight, or the aisec.gpu_host.preflight
    role (its preflight_roles, by default every role)."""
    out = []
    for t in play.get("tasks", []):
        inc = t.get("ansible.builtin.include_role", {})
        if inc.get("tasks_from") == "preflight":
            out.append(inc["name"])
        elif inc.get("name") == "aisec.gpu_host.preflight":
            names = (t.get("vars") or {}).get("preflight_roles") or preflight_role_default()
            out.extend("aisec.gpu_host." + n for n in names)
    return out


def env(tmp, **extra):
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("AISEC_COMPLIANCE_", "ANSIBLE_")) and k != "AWX_ISOLATED_DATA_DIR"}
    out.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": os.path.join(str(tmp), "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(str(tmp), "ansible-remote"),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    out.update(extra)
    return out


def run(tmp, args, **extra):
    proc = subprocess.run([ANSIBLE_PLAYBOOK] + args, cwd=str(tmp), env=env(tmp, **extra), capture_output=True,
                          text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------ structure


def test_audit_is_check_mode_only():
    plays = load("audit.yml")
    assert len(plays) == 3
    for play in plays:
        assert play["check_mode"] is True, play["name"]
    preflight, main, gate = plays
    assert preflight["diff"] is True and main["diff"] is True
    assert preflight["any_errors_fatal"] is True
    guard = preflight["tasks"][0]
    assert guard["ansible.builtin.assert"]["that"] == ["ansible_check_mode | bool"]
    assert guard["run_once"] is True and "always" in guard["tags"]
    assert preflights_of(preflight) == roles_of(main) == ROLE_ORDER
    # The gate only reads the report: every task is excluded from it and runs whatever --tags says.
    for task in gate["tasks"]:
        assert {"always", "aisec_report_exclude"} <= set(task["tags"]), task["name"]
        assert not any(key.startswith("ansible.builtin.") and key.split(".")[-1] not in
                       ("assert", "debug", "set_fact", "set_stats") for key in task), task["name"]


def test_audit_mirrors_site():
    site = load("site.yml")
    site_roles = [r for play in site for r in roles_of(play)]
    site_preflights = [r for play in site for r in preflights_of(play)]
    audit = load("audit.yml")
    if set(site_roles) < set(ROLE_ORDER):
        pytest.xfail("playbooks/site.yml does not list every role yet (%s); audit.yml audits %s" % (site_roles, ROLE_ORDER))
    assert site_roles == roles_of(audit[1])
    assert site_preflights == preflights_of(audit[0])


def test_remediate_applies_the_site_roles_in_batches():
    plays = load("remediate.yml")
    preflight, main = plays
    assert roles_of(main) == ROLE_ORDER  # the same role list keeps the local fact of common stable
    assert preflights_of(preflight) == ROLE_ORDER
    assert preflight["any_errors_fatal"] is True
    assert main["max_fail_percentage"] == 0 and "aisec_remediate_serial" in main["serial"]
    for play in plays:
        assert "check_mode" not in play
        assert play["hosts"] == "{{ aisec_remediate_hosts | default('all') }}"
    patching = [r for r in main["roles"] if r["role"] == "aisec.gpu_host.patching"][0]
    assert patching["vars"] == {"patching_mode": "report", "patching_reboot": False}
    pre_patching = [t for t in preflight["tasks"] if t["ansible.builtin.include_role"]["name"] in (
        "aisec.gpu_host.patching", "aisec.gpu_host.preflight")][0]
    assert pre_patching["vars"] == patching["vars"]


def test_common_playbook():
    preflight, main = load("common.yml")
    assert preflights_of(preflight) == roles_of(main) == ["aisec.gpu_host.common"]


@needs_ansible
def test_syntax_check(tmp_path):
    rc, output = run(tmp_path, ["--syntax-check", "-i", os.path.join(ROOT, "inventories", "example"),
                                os.path.join(PLAYBOOKS, "audit.yml"), os.path.join(PLAYBOOKS, "remediate.yml"),
                                os.path.join(PLAYBOOKS, "common.yml"), os.path.join(PLAYBOOKS, "awx_configure.yml")])
    assert rc == 0, output
    assert output.count("playbook: ") == 4, output


# ------------------------------------------------------------------------------ runs on local hosts


@needs_ansible
def test_audit_refuses_to_run_without_check(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    gpu-node-1:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n", encoding="utf-8")
    rc, output = run(tmp_path, ["-i", str(inventory), os.path.join(PLAYBOOKS, "audit.yml")],
                     ANSIBLE_CALLBACKS_ENABLED="aisec.gpu_host.compliance_report",
                     AISEC_COMPLIANCE_DIR=str(tmp_path / "out"))
    assert rc == 2, output
    assert "playbooks/audit.yml only runs in check mode: add --check" in output
    assert "TASK [aisec.gpu_host" not in output and "Validate aisec" not in output  # nothing after the guard ran
    assert "Traceback" not in output


def gate_playbook(tmp_path):
    """The compliance_report fixture play followed by the gate play of audit.yml."""
    path = tmp_path / "gate.yml"
    with open(str(path), "w", encoding="utf-8") as handle:
        yaml.safe_dump([{"ansible.builtin.import_playbook": os.path.join(FIXTURE, "playbook.yml")}, load("audit.yml")[-1]],
                       handle, sort_keys=False)
    return str(path)


@needs_ansible
def test_gate_fails_on_drift_and_publishes_it(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    rc, output = run(tmp_path, ["-i", os.path.join(FIXTURE, "hosts.yml"), gate_playbook(tmp_path), "--check", "--diff",
                                "-e", "compliance_fixture_root=%s" % root, "-e", "aisec_audit_fail_on_drift=true"],
                     ANSIBLE_CALLBACKS_ENABLED="aisec.gpu_host.compliance_report", ANSIBLE_SHOW_CUSTOM_STATS="true",
                     AISEC_COMPLIANCE_DIR=str(tmp_path / "out"))
    assert rc == 2, output
    flat = re.sub(r"\s+", " ", output)
    assert ("Drift from the aisec.gpu_host baseline on 2 host(s): gpu-node-1: AISEC-ACCESS-03; "
            "gpu-node-2: AISEC-ACCESS-03. Report: %s." % (tmp_path / "out")) in flat
    assert "'gpu-node-1: drift: AISEC-ACCESS-03; failed: AISEC-DETECT-01'" in output
    stats = output.split("CUSTOM STATS", 1)[1]
    assert "aisec_remediate_hosts" in stats and "gpu-node-1" in stats and "gpu-node-2" in stats
    assert "AISEC-ACCESS-03" in stats and "compliant: false" in stats
    # The gate is not recorded in the report: no host gets a result of its tasks.
    with open(str(tmp_path / "out" / "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["run"]["final"] is True
    assert sorted(report["hosts"]) == ["gpu-node-1", "gpu-node-2"]
    assert report["hosts"]["gpu-node-1"]["untagged_tasks"]["failed"] == 0
    assert not os.listdir(str(root))  # check mode: the fixture wrote nothing


@needs_ansible
def test_gate_needs_the_callback_to_gate(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    rc, output = run(tmp_path, ["-i", os.path.join(FIXTURE, "hosts.yml"), gate_playbook(tmp_path), "--check",
                                "-e", "compliance_fixture_root=%s" % root, "-e", "aisec_audit_fail_on_drift=true",
                                "--tags", "AISEC-NET-01"],
                     ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")  # not compliance_report (ansible.cfg enables it)
    assert rc == 2, output
    assert "aisec_audit_fail_on_drift is set, but this run has no compliance report to gate on" in re.sub(r"\s+", " ", output)
    assert "the aisec.gpu_host.compliance_report callback is not enabled" in re.sub(r"\s+", " ", output)

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift test of playbooks/audit.yml and playbooks/remediate.yml through ansible-runner (needs docker).

On one local systemd container (the Molecule image and flags of .config/molecule/config.yml, reached with the
community.docker.docker connection):

1. converge with playbooks/site.yml (``AISEC_DRIFT_CONVERGE_PLAYBOOK`` names another playbook of playbooks/);
2. audit.yml reports no drift (and its gate passes with ``aisec_audit_fail_on_drift``);
3. five settings of five different controls are changed by hand;
4. audit.yml reports exactly those five controls as drift and nothing else, fails because of them, names them,
   and publishes the drifted host for the remediation (set_stats);
5. remediate.yml (for the hosts the audit published) restores them, reported as ``fixed``;
6. audit.yml is clean again.

Every run writes the compliance report into its ansible-runner artifact directory; the JUnit counts are checked
against the JSON and the HTML of the drift audit is rendered by headless Chromium when it is installed (the
screenshot is kept in tests/output/artifacts/). Run it with::

    .venv/bin/python -m pytest tests/integration/drift -q

It takes about five minutes on a 2-core machine; it is skipped when docker, the test image or ansible-runner
is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.aisec.gpu_host.plugins.module_utils import compliance as c
from png_check import png_size_and_colours

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
ARTIFACTS = os.path.join(ROOT, "tests", "output", "artifacts")
VENV_BIN = os.path.dirname(sys.executable)
MOLECULE_BASE = os.path.join(ROOT, ".config", "molecule", "config.yml")
IMAGE = os.environ.get("AISEC_TEST_IMAGE") or "aisec-gpu-host/debian12:latest"
CONVERGE = os.environ.get("AISEC_DRIFT_CONVERGE_PLAYBOOK", "site.yml")
HOST = "aisec-drift-node"
CALLBACK = "aisec.gpu_host.compliance_report"

# Five settings of five different controls, each changed the way a person with root on the host might change
# it, and how to check it from inside the container afterwards.
EDITS = {
    "AISEC-BASE-02": {
        "what": "the local fact no longer records the truth",
        "edit": "python3 -c \"import json; p='/etc/ansible/facts.d/aisec.fact'; d=json.load(open(p)); "
                "d['managed_by']='edited by hand'; open(p,'w').write(json.dumps(d))\"",
        "check": "grep -q 'Managed\\|managed_by\": \"Ansible' /etc/ansible/facts.d/aisec.fact",
    },
    "AISEC-NET-05": {
        "what": "/etc/nftables.conf (the boot-time ruleset) edited",
        "edit": "echo 'include \"/etc/nftables.d/local-*.nft\"' >> /etc/nftables.conf",
        "check": "! grep -q local- /etc/nftables.conf",
    },
    "AISEC-ACCESS-01": {
        "what": "the inference service account's home opened to everyone",
        "edit": "chmod 0755 /var/lib/svc-inference",
        "check": "test \"$(stat -c %a /var/lib/svc-inference)\" = 750",
    },
    "AISEC-ACCESS-04": {
        "what": "pam_faillock lockout weakened",
        "edit": "sed -i 's/^deny = .*/deny = 1000/' /etc/security/faillock.conf",
        "check": "! grep -q 'deny = 1000' /etc/security/faillock.conf",
    },
    "AISEC-ACCESS-05": {
        "what": "the root-owned authorized keys directory made world-writable",
        "edit": "chmod 0777 /etc/ssh/authorized_keys",
        "check": "test \"$(stat -c %a /etc/ssh/authorized_keys)\" = 755",
    },
}

# The task that reports (and in remediate.yml fixes) each edit.
DRIFT_TASKS = {
    "AISEC-BASE-02": "Inventory | Record the applied collection, platform and GPU inventory as a local fact",
    "AISEC-NET-05": 'Boot | Load only the role\'s files at boot (no "flush ruleset")',
    "AISEC-ACCESS-01": "Accounts | The service account's home, closed to everyone else",
    "AISEC-ACCESS-04": "Faillock | Lockout thresholds, tally directory and break-glass exemption",
    "AISEC-ACCESS-05": "SSH | Create the root-owned authorized keys directory",
}

ansible_runner = pytest.importorskip("ansible_runner")


# ------------------------------------------------------------------------------ helpers


def docker(*args, check=True, timeout=120):
    proc = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def docker_run_args(name):
    """``docker run`` arguments for the platform flags of the shared Molecule configuration."""
    with open(MOLECULE_BASE, encoding="utf-8") as handle:
        platform = yaml.safe_load(handle)["platforms"][0]
    args = ["run", "-d", "--name", name, "--hostname", HOST]
    args += ["--cap-add=%s" % cap for cap in platform.get("capabilities", [])]
    args += ["--security-opt=%s" % opt for opt in platform.get("security_opts", [])]
    args += ["--tmpfs=%s" % path for path in platform.get("tmpfs", [])]
    args += ["--volume=%s" % vol for vol in platform.get("volumes", [])]
    if platform.get("cgroupns_mode"):
        args.append("--cgroupns=%s" % platform["cgroupns_mode"])
    # sshd listens on [::]:22 too; the access role checks it there (as in the firewall scenario).
    args.append("--sysctl=net.ipv6.conf.all.disable_ipv6=0")
    args += ["--label", "aisec.gpu_host.test=drift", IMAGE]
    args += platform.get("command", "/lib/systemd/systemd").split()
    return args


def play_roles(path):
    """Role names of the plays of a playbook that have ``roles:``, in order."""
    with open(path, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    names = []
    for play in plays:
        for role in play.get("roles", []) or []:
            names.append(role["role"] if isinstance(role, dict) else role)
    return names


class Lab:
    """The container, the inventory and the ansible-runner runs of this module."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.container = "aisec-drift-node-" + uuid.uuid4().hex[:8]
        self.inventory = os.path.join(tmp, "inventory.yml")
        self.runs = {}

    def start(self):
        docker(*docker_run_args(self.container))
        deadline = time.time() + 90
        state = ""
        while time.time() < deadline:
            state = docker("exec", self.container, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        else:
            raise AssertionError("systemd in %s did not come up (state %r)" % (self.container, state))
        # A real host has package lists; the image is built without them (as Molecule's prepare steps do).
        proc = self.sh("apt-get update -qq")
        assert proc.returncode == 0, "apt-get update failed in the test container: %s" % proc.stderr
        with open(os.path.join(HERE, "vars.yml"), encoding="utf-8") as handle:
            host_vars = yaml.safe_load(handle)
        host_vars.update({
            "ansible_connection": "community.docker.docker",
            "ansible_host": self.container,
            "ansible_python_interpreter": "/usr/bin/python3",
            "patching_csaf_source": os.path.join(ROOT, "tests", "integration", "patching", "csaf"),
            "patching_csaf_mirror": os.path.join(self.tmp, "csaf-mirror"),
            "patching_report_dir": os.path.join(self.tmp, "patching-reports"),
        })
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {"children": {"gpu_nodes": {"hosts": {HOST: host_vars}}}}}, handle)

    def stop(self):
        docker("rm", "-f", "-v", self.container, check=False)

    def sh(self, command):
        return docker("exec", self.container, "/bin/sh", "-c", command, check=False)

    def run(self, ident, playbook, check=False, extravars=None):
        env = {
            "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
            "ANSIBLE_CALLBACKS_ENABLED": CALLBACK,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        }
        # One private data directory per run: ansible-runner keeps cmdline, extravars and envvars there and
        # would apply them to the next run.
        private = os.path.join(self.tmp, "runner-" + ident)
        os.makedirs(private)
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=private,
            project_dir=PLAYBOOKS,
            playbook=playbook,
            inventory=self.inventory,
            extravars=extravars or {},
            envvars=env,
            cmdline="--check --diff" if check else None,
            ident=ident,
            quiet=True,
            timeout=900,
        )
        stdout = runner.stdout.read()
        stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
        artifact_dir = runner.config.artifact_dir
        report_dir = os.path.join(artifact_dir, "compliance-report")
        result = {
            "rc": runner.rc,
            "status": runner.status,
            "stdout": stdout,
            "seconds": time.monotonic() - started,
            "artifact_data": (stats[-1].get("event_data", {}).get("artifact_data") or {}) if stats else {},
            "report_dir": report_dir,
        }
        try:
            with open(os.path.join(report_dir, "report.json"), encoding="utf-8") as handle:
                result["report"] = json.load(handle)
            with open(os.path.join(report_dir, "junit.xml"), encoding="utf-8") as handle:
                result["junit"] = handle.read()
        except OSError as exc:
            raise AssertionError("%s: no compliance report in %s (%s)\n%s" % (ident, report_dir, exc, stdout[-6000:]))
        self.runs[ident] = result
        return result


def statuses(report, wanted):
    """{(host, control): status} of every control result whose status is in ``wanted``."""
    return {
        (host, control): entry["status"]
        for host, data in report["hosts"].items()
        for control, entry in data["controls"].items()
        if entry["status"] in wanted
    }


def tail(result, chars=8000):
    return result["stdout"][-chars:]


# ------------------------------------------------------------------------------ the scenario


@pytest.fixture(name="lab", scope="module")
def fixture_lab(tmp_path_factory):
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("needs a running docker daemon")
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip("test image %s is missing (scripts/build-image.sh)" % IMAGE)
    audited, converged = play_roles(os.path.join(PLAYBOOKS, "audit.yml")), play_roles(os.path.join(PLAYBOOKS, CONVERGE))
    if audited != converged:
        pytest.fail("playbooks/%s applies the roles %s but playbooks/audit.yml audits %s: a host converged with it "
                    "cannot be free of drift" % (CONVERGE, converged, audited))
    lab = Lab(str(tmp_path_factory.mktemp("drift")))
    try:
        lab.start()
        converge = lab.run("converge", CONVERGE)
        assert converge["rc"] == 0, tail(converge)
        yield lab
    finally:
        lab.stop()


@pytest.fixture(name="clean_audit", scope="module")
def fixture_clean_audit(lab):
    return lab.run("audit-clean", "audit.yml", check=True, extravars={"aisec_audit_fail_on_drift": True})


@pytest.fixture(name="drift_audit", scope="module")
def fixture_drift_audit(lab, clean_audit):
    for control, edit in EDITS.items():
        proc = lab.sh(edit["edit"])
        assert proc.returncode == 0, "%s edit failed: %s" % (control, proc.stderr)
        assert lab.sh(edit["check"]).returncode != 0, "%s edit had no effect" % control
    return lab.run("audit-drift", "audit.yml", check=True, extravars={"aisec_audit_fail_on_drift": True})


@pytest.fixture(name="remediation", scope="module")
def fixture_remediation(lab, drift_audit):
    hosts = drift_audit["artifact_data"].get("aisec_remediate_hosts")
    return lab.run("remediate", "remediate.yml", extravars={"aisec_remediate_hosts": hosts})


@pytest.fixture(name="final_audit", scope="module")
def fixture_final_audit(lab, remediation):
    return lab.run("audit-final", "audit.yml", check=True, extravars={"aisec_audit_fail_on_drift": True})


def test_converged_host_has_no_drift(lab, clean_audit):
    report = clean_audit["report"]
    assert clean_audit["rc"] == 0, tail(clean_audit)
    assert report["run"]["check_mode"] is True and report["run"]["final"] is True
    assert report["run"]["output_dir_source"] == "ansible-runner"
    assert list(report["hosts"]) == [HOST]
    assert statuses(report, (c.DRIFT, c.FAILED)) == {}, tail(clean_audit)
    assert report["totals"]["compliant"] is True
    # every control of the four roles was audited
    assert {"AISEC-BASE-02", "AISEC-NET-01", "AISEC-NET-05", "AISEC-ACCESS-01", "AISEC-ACCESS-05",
            "AISEC-PATCH-01"} <= set(report["hosts"][HOST]["controls"])
    assert clean_audit["artifact_data"]["aisec_remediate_hosts"] == []
    assert clean_audit["artifact_data"]["aisec_audit"]["compliant"] is True
    assert "No drift and no failed control." in clean_audit["stdout"]


def test_edits_are_exactly_five_drifting_controls(lab, drift_audit):
    report = drift_audit["report"]
    assert statuses(report, (c.DRIFT, c.FAILED)) == {(HOST, control): c.DRIFT for control in EDITS}, tail(drift_audit)
    assert report["totals"]["controls"]["drift"] == len(EDITS) == 5
    assert report["totals"]["controls"]["failed"] == 0
    assert report["totals"]["compliant"] is False
    # The gate failed the run (and only the gate: no host task failed), naming the five controls.
    assert drift_audit["rc"] != 0 and drift_audit["status"] == "failed", tail(drift_audit)
    message = re.search(r"Drift from the aisec.gpu_host baseline on 1 host\(s\): ([^.]*)\.", drift_audit["stdout"])
    assert message, tail(drift_audit)
    assert message.group(1).replace("\n", " ") == "%s: %s" % (HOST, ", ".join(sorted(EDITS)))
    assert report["hosts"][HOST]["stats"]["failures"] == 1  # the gate task, which the report does not record
    # What AWX passes on to the remediation.
    assert drift_audit["artifact_data"]["aisec_remediate_hosts"] == [HOST]
    assert drift_audit["artifact_data"]["aisec_audit"]["hosts"] == {
        HOST: {"drift": sorted(EDITS), "failed": [], "unreachable": False}}
    assert drift_audit["artifact_data"]["aisec_audit"]["drift"] == 5


def test_drift_tasks_are_the_edited_settings(drift_audit):
    controls = drift_audit["report"]["hosts"][HOST]["controls"]
    for control in EDITS:
        drifted = [t for t in controls[control]["tasks"] if t["status"] == c.DRIFT]
        assert drifted and all(t["check_mode"] for t in drifted), (control, drifted)
    # Each edit is drift of the task that would fix it, in the task file of its control, and of nothing else: the
    # pam_faillock settings are AISEC-ACCESS-04 only, the other controls of the access role pass.
    for control, task in DRIFT_TASKS.items():
        assert [t["name"] for t in controls[control]["tasks"] if t["status"] == c.DRIFT] == [task], control
    for control in ("AISEC-ACCESS-02", "AISEC-ACCESS-03", "AISEC-ACCESS-06"):
        assert [t["name"] for t in controls[control]["tasks"] if t["status"] == c.DRIFT] == [], control


@pytest.mark.parametrize("ident", ["audit-clean", "audit-drift", "remediate", "audit-final"])
def test_junit_matches_json(lab, final_audit, ident):
    jsonschema = pytest.importorskip("jsonschema")
    run = lab.runs[ident]
    jsonschema.Draft202012Validator(c.REPORT_SCHEMA).validate(run["report"])
    root = ET.fromstring(run["junit"].encode("utf-8"))
    expected = c.junit_counts(run["report"])
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == expected[key], key
    drift_cases = sorted(case.get("name") for case in root.iter("testcase") if case.find("failure[@type='drift']") is not None)
    assert drift_cases == (sorted(EDITS) if ident == "audit-drift" else [])


def test_remediation_restores_the_five_controls(lab, remediation):
    report = remediation["report"]
    assert remediation["rc"] == 0, tail(remediation)
    assert report["run"]["check_mode"] is False
    fixed = statuses(report, (c.FIXED,))
    assert {(HOST, control) for control in EDITS} <= set(fixed), tail(remediation)
    assert statuses(report, (c.DRIFT, c.FAILED)) == {}
    for control, edit in EDITS.items():
        assert lab.sh(edit["check"]).returncode == 0, "%s not restored on the host" % control


def test_audit_is_clean_again(final_audit):
    assert final_audit["rc"] == 0, tail(final_audit)
    assert statuses(final_audit["report"], (c.DRIFT, c.FAILED)) == {}
    assert final_audit["artifact_data"]["aisec_remediate_hosts"] == []


def test_drift_report_renders_in_headless_chromium(drift_audit, tmp_path):
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, "drift_audit.png")
    if os.path.exists(png):
        os.unlink(png)
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars",
         "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1280,1600", "--screenshot=%s" % png,
         "file://" + os.path.join(drift_audit["report_dir"], "report.html")],
        capture_output=True, text=True, timeout=120, check=False)
    assert os.path.exists(png), proc.stdout + proc.stderr
    width, height, colours = png_size_and_colours(png)
    assert (width, height) == (1280, 1600) and colours > 20
    with open(os.path.join(drift_audit["report_dir"], "report.html"), encoding="utf-8") as handle:
        page = handle.read()
    for control in EDITS:
        assert control in page


def test_timings(lab, final_audit):
    """Not a check: the wall time of each run, for the test log."""
    for ident, run in lab.runs.items():
        print("%-12s %6.1f s  rc=%s" % (ident, run["seconds"], run["rc"]))

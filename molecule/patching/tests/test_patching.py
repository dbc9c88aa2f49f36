# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verify aisec.gpu_host.patching (playbooks/patch.yml) against the hosts prepared by prepare.yml.

Converge already ran patch.yml over the three GPU hosts (Molecule also ran it in check mode before, and once
more for idempotence). The tests below read the result, then run patch.yml again for the remaining cases: bad
input, check mode, an opted-in branch migration and a failing post-check. They run in file order.
"""
import json
import os
import subprocess

import pytest
import testinfra

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
REPORTS = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports")
REV = "-0ubuntu0.22.04.1"

testinfra_hosts = ["ansible://patching-vuln"]


def _host(name):
    return testinfra.get_host("ansible://%s" % name, ansible_inventory=INVENTORY)


def _versions(host):
    """Installed packages the role may move: {name: version}."""
    out = host.run("dpkg-query -W -f='${db:Status-Abbrev}=${Package}=${Version}\\n' 'nvidia-*' 'libnvidia-*' '*-microcode'")
    assert out.rc in (0, 1), out.stderr
    rows = [line.split("=", 2) for line in out.stdout.splitlines() if line]
    return {name: version for status, name, version in rows if status[1:2] == "i"}


def _holds(host):
    return set(host.check_output("apt-mark showhold").split())


def _state(host):
    """Everything the role may change on a host, to prove that a run changed nothing."""
    return (_versions(host), _holds(host), host.file("/run/reboot-required").exists,
            host.file("/var/lib/aisec-test/drained").exists)


def _report(name):
    """The report of the latest run on a host."""
    with open(os.path.join(REPORTS, name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


def _change_report(name):
    """The dated report of the latest run that changed a host (later idempotent runs only rewrite _report)."""
    dated = sorted(f for f in os.listdir(REPORTS) if f.startswith(name + "-2") and f.endswith(".json"))
    assert dated, os.listdir(REPORTS)
    with open(os.path.join(REPORTS, dated[-1]), encoding="utf-8") as fh:
        return json.load(fh)


def _patch(*extra):
    cmd = ["ansible-playbook", "-i", INVENTORY, os.path.join(ROOT, "playbooks", "patch.yml"), *extra]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    return result.returncode, result.stdout + result.stderr


def _recap(out, name):
    line = next(l for l in out.splitlines() if l.startswith(name + " ") and "ok=" in l)
    return dict(part.split("=") for part in line.split(":", 1)[1].split())


# --- The converged state ---------------------------------------------------------------------------------


def test_vulnerable_host_ends_at_exactly_the_required_versions():
    host = _host("patching-vuln")
    versions = _versions(host)
    # 535.247.01 and 1.18.0 are in the repository too: the role takes the required version, not the newest.
    for name in ("nvidia-driver-535-server", "nvidia-utils-535-server", "libnvidia-compute-535-server"):
        assert versions[name] == "535.230.02" + REV, versions
    assert versions["nvidia-container-toolkit"] == "1.17.8-1"
    assert versions["nvidia-container-toolkit-base"] == "1.17.8-1"
    assert versions["intel-microcode"] == "3.20250512.1~deb12u1"
    assert "<driver_version>535.230.02</driver_version>" in host.check_output("nvidia-smi -q -x")


def test_vulnerable_host_packages_are_held():
    holds = _holds(_host("patching-vuln"))
    assert {"nvidia-driver-535-server", "nvidia-utils-535-server", "libnvidia-compute-535-server",
            "nvidia-container-toolkit", "nvidia-container-toolkit-base"} <= holds, holds
    assert "intel-microcode" not in holds  # microcode is kept current, not pinned


def test_vulnerable_host_has_a_reboot_flagged():
    host = _host("patching-vuln")
    assert host.file("/run/reboot-required").exists
    pkgs = host.file("/run/reboot-required.pkgs").content_string.split()
    assert "nvidia-driver-535-server" in pkgs and "intel-microcode" in pkgs, pkgs
    report = _change_report("patching-vuln")
    assert report["reboot_required"] is True
    assert report["actions"]["rebooted"] is False


def test_vulnerable_host_report_has_findings_before_and_none_after():
    report = _change_report("patching-vuln")
    assert report["status"] == "pending_reboot", report["status"]
    assert report["mode"] == "patch" and report["check_mode"] is False
    before = {f["tracking_id"] for f in report["before"]["findings"]}
    assert before == {"AISEC-TEST-2025-0001", "AISEC-TEST-2025-0002", "AISEC-TEST-2025-0003",
                      "AISEC-TEST-2025-0004"}, before
    assert report["after"]["findings"] == []
    assert report["plan"]["driver"]["action"] == "upgrade"
    assert report["plan"]["driver"]["target_version"] == "535.230.02"
    assert report["plan"]["container_toolkit"]["target_version"] == "1.17.8"
    assert report["after"]["driver_version"] == "535.230.02"
    assert report["after"]["gpu_count"] == report["before"]["gpu_count"] == 2
    assert report["postchecks"] == "passed"


def test_vulnerable_host_was_drained_and_undrained():
    host = _host("patching-vuln")
    assert not host.file("/var/lib/aisec-test/drained").exists
    assert host.file("/var/lib/aisec-test/undrained").exists
    assert _change_report("patching-vuln")["actions"]["drained"] is True


def test_only_the_firmware_that_fixes_a_finding_was_flashed():
    host = _host("patching-vuln")
    log = host.file("/var/lib/aisec-test/fwupd-updates.log").content_string
    assert "HGX_FW_HMC_0 1.5.0 -> 1.6.0" in log
    assert "System Firmware" not in log  # an update that fixes no finding is only reported
    devices = {d["name"]: d for d in _change_report("patching-vuln")["plan"]["firmware"]["devices"]}
    assert devices["HGX_FW_HMC_0"]["fixes"] == ["CVE-2099-10004"] and devices["HGX_FW_HMC_0"]["apply"]
    assert devices["System Firmware"]["apply"] is False


def test_fixed_host_is_untouched():
    host = _host("patching-fixed")
    versions = _versions(host)
    assert versions["nvidia-driver-535-server"] == "535.230.02" + REV
    assert versions["nvidia-container-toolkit"] == "1.17.8-1"
    assert not _holds(host)
    assert not host.file("/run/reboot-required").exists
    assert not host.file("/var/lib/aisec-test/drained").exists
    assert not host.file("/var/lib/aisec-test/undrained").exists
    report = _report("patching-fixed")
    assert report["status"] == "compliant", report["status"]
    assert not any(report["actions"].values()), report["actions"]
    assert report["before"]["findings"] == [] and report["postchecks"] == "passed"


def test_unfixed_branch_is_reported_and_left_alone():
    host = _host("patching-unfixed")
    versions = _versions(host)
    assert versions["nvidia-driver-550-server"] == "550.127.05" + REV  # 550.144.03 is offered, fixes nothing
    assert not _holds(host)
    report = _report("patching-unfixed")
    assert report["status"] == "unfixed", report["status"]
    assert report["plan"]["driver"]["action"] == "unfixed"
    assert report["plan"]["driver"]["unfixed"] == ["AISEC-TEST-2025-0002"]
    [finding] = report["after"]["findings"]
    assert finding["fixed_version"] is None and finding["unfixed_cves"] == ["CVE-2099-10002"]


# --- Bad input fails in the pre-flight, before any change anywhere ------------------------------------------


@pytest.mark.parametrize(
    "extra, expected",
    [
        (['{"patching_extra_components": [{"name": "nvidia_bogus", "version": "1.0"}]}'], "nvidia_bogus"),
        (["patching_mode=report patching_reboot=true"], "patching_reboot: true needs patching_mode: patch"),
        (["patching_driver_branch=R570"], "set patching_driver_branch_migration: true to migrate"),
    ],
    ids=["unknown-component", "contradictory-options", "branch-migration-without-opt-in"],
)
def test_bad_input_fails_before_any_change(extra, expected):
    host = _host("patching-vuln")
    before = _state(host)
    rc, out = _patch("-e", "aisec_patch_hosts=gpu_nodes", *[a for e in extra for a in ("-e", e)])
    assert rc != 0, out
    assert expected in out, out
    assert "PLAY [Advisories" not in out and "PLAY [Rollout" not in out, out
    assert _state(host) == before


# --- Check mode, then an opted-in branch migration ---------------------------------------------------------------

MIGRATE = ["-e", "aisec_patch_hosts=patching-unfixed", "-e", "patching_driver_branch=R570",
           "-e", "patching_driver_branch_migration=true"]


def test_check_mode_reports_the_drift_and_changes_nothing():
    host = _host("patching-unfixed")
    before = _state(host)
    rc, out = _patch(*MIGRATE, "--check", "--diff")
    assert rc == 0, out
    assert _state(host) == before
    assert int(_recap(out, "patching-unfixed")["changed"]) > 0, out
    assert "nvidia-driver-570-server" in out  # the --diff of the package change
    report = _report("patching-unfixed")
    assert report["check_mode"] is True and report["status"] == "drift", report["status"]
    assert report["plan"]["driver"]["action"] == "migrate"
    assert report["plan"]["driver"]["target_version"] == "570.195.03"


def test_opted_in_branch_migration_reaches_the_required_version_of_the_new_branch():
    host = _host("patching-unfixed")
    rc, out = _patch(*MIGRATE)
    assert rc == 0, out
    versions = _versions(host)
    assert versions["nvidia-driver-570-server"] == "570.195.03" + REV  # not the newer 570.211.01
    assert versions["nvidia-utils-570-server"] == "570.195.03" + REV
    assert not [name for name in versions if "-550-" in name], versions
    assert {"nvidia-driver-570-server", "nvidia-utils-570-server", "libnvidia-compute-570-server"} <= _holds(host)
    report = _change_report("patching-unfixed")
    assert report["status"] == "pending_reboot" and report["after"]["findings"] == [], report
    assert report["plan"]["driver"]["action"] == "migrate" and report["actions"]["driver_changed"] is True
    rc, out = _patch(*MIGRATE)
    assert rc == 0, out
    assert _recap(out, "patching-unfixed")["changed"] == "0", out


# --- A failed post-check stops the rollout before the next batch -------------------------------------------------


def test_failed_postcheck_stops_the_rollout():
    names = ["patching-fixed", "patching-unfixed"]
    mtimes = {n: os.path.getmtime(os.path.join(REPORTS, n + ".json")) for n in names}
    rc, out = _patch("-e", "aisec_patch_hosts=patching-fixed:patching-unfixed", "-e", "aisec_patch_serial=1",
                     "-e", "patching_health_url=http://127.0.0.1:8001/health",
                     "-e", "patching_health_retries=1", "-e", "patching_health_delay=0")
    assert rc != 0, out
    rollout = out.split("PLAY [Rollout", 1)[1]
    ran = [n for n in names if "[%s]" % n in rollout]
    assert len(ran) == 1, rollout  # the second batch never started
    first, second = ran[0], [n for n in names if n != ran[0]][0]
    report = _report(first)
    assert report["status"] == "failed" and "inference service" in report["failure"], report["failure"]
    assert os.path.getmtime(os.path.join(REPORTS, second + ".json")) == mtimes[second]

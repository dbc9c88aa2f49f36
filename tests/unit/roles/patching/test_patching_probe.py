# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of roles/patching/files/patching_probe.py (the target-side read-only probe of the patching role)."""
from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils.patch_plan import build_plan

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "patching", "files", "patching_probe.py")
_spec = importlib.util.spec_from_file_location("patching_probe", SCRIPT)
pp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pp)

DPKG = (
    "ii \tnvidia-driver-535-server\t535.183.01-0ubuntu0.22.04.1\n"
    "hi \tnvidia-utils-535-server\t535.183.01-0ubuntu0.22.04.1\n"
    "un \tnvidia-driver-550-server\t\n"
    "rc \tlibnvidia-compute-530\t530.30.02-0ubuntu1\n"
    "ii \tnvidia-container-toolkit\t1.17.3-1\n"
    "ii \tintel-microcode\t3.20240312.1~deb12u1\n"
)
MADISON = (
    "nvidia-driver-535-server | 535.230.02-0ubuntu0.22.04.1 | http://repo ./ Packages\n"
    "nvidia-utils-535-server | 535.230.02-0ubuntu0.22.04.1 | http://repo ./ Packages\n"
    "nvidia-container-toolkit |   1.17.8-1 | http://repo ./ Packages\n"
)
POLICY = "intel-microcode:\n  Installed: 3.20240312.1~deb12u1\n  Candidate: 3.20250512.1~deb12u1\n"
UPDATES = json.dumps({"Devices": []})


def spec(**over):
    data = {
        "phase": "early", "apt": True, "dpkg_patterns": ["nvidia-*", "intel-microcode"], "cpuinfo": True,
        "policy_names": ["intel-microcode", "amd64-microcode"], "madison_exclude": ["intel-microcode", "amd64-microcode"],
        "rename": None, "cache_valid_time": 0, "reboot_marker": "/nonexistent/reboot-required", "fwupd": True,
        "fwupd_refresh": False,
    }
    data.update(over)
    return data


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Record the commands; answer them with the canned outputs above."""
    calls = []

    def run(argv, ok_rcs=(0,)):
        calls.append((list(argv), tuple(ok_rcs)))
        return {"dpkg-query": DPKG, "apt-cache": MADISON if argv[1] == "madison" else POLICY,
                "fwupdmgr": UPDATES}[argv[0]]

    monkeypatch.setattr(pp, "run", run)
    monkeypatch.setattr(pp, "cpu_vendor_line", lambda: "vendor_id\t: GenuineIntel\n")
    monkeypatch.setattr(pp.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(pp, "APT_UPDATE_SUCCESS_STAMP_PATH", str(tmp_path / "stamp"))
    monkeypatch.setattr(pp, "APT_LISTS_PATH", str(tmp_path / "lists"))
    (tmp_path / "lists").mkdir()
    return calls


def test_early_phase_reads_everything_in_one_call_when_no_refresh_is_due(fake, tmp_path):
    marker = tmp_path / "reboot-required"
    marker.write_text("*** System restart required ***\n")
    out = pp.probe(spec(reboot_marker=str(marker)))
    assert out["deferred"] == []
    assert out["reboot_marker"] is True and out["apt_lists_stale"] is False
    assert out["dpkg"] == DPKG and out["madison"] == MADISON and out["policy"] == POLICY
    assert out["cpuinfo"] == "vendor_id\t: GenuineIntel\n"
    assert out["fwupdmgr"] == "/usr/bin/fwupdmgr" and out["fwupd_updates"] == UPDATES
    # installed (?i) packages only, microcode asked through apt-cache policy instead
    assert out["madison_names"] == ["nvidia-driver-535-server", "nvidia-utils-535-server", "nvidia-container-toolkit"]
    argvs = [c[0] for c in fake]
    assert argvs[0] == ["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n", "nvidia-*", "intel-microcode"]
    assert fake[0][1] == (0, 1)  # 1: a pattern matched nothing
    assert ["apt-cache", "madison"] + out["madison_names"] in argvs
    assert ["apt-cache", "policy", "intel-microcode", "amd64-microcode"] in argvs
    assert ["fwupdmgr", "get-updates", "--json", "--no-unreported-check", "--no-metadata-check"] in argvs
    assert fake[-1][1] == (0, 2)  # 2: no updates available


def test_stale_lists_and_fwupd_refresh_defer_the_offers(fake, tmp_path):
    old = time.time() - 7200
    os.utime(str(tmp_path / "lists"), (old, old))
    out = pp.probe(spec(cache_valid_time=3600, fwupd_refresh=True))
    assert out["apt_lists_stale"] is True
    assert out["deferred"] == ["apt", "fwupd"]
    assert out["madison"] == out["policy"] == out["fwupd_updates"] == ""
    assert [c[0][0] for c in fake] == ["dpkg-query"]  # nothing read before its refresh
    late = pp.probe(spec(phase="late", parts=out["deferred"], madison_names=out["madison_names"]))
    assert set(late) == {"madison_names", "madison", "policy", "fwupd_updates"}  # what it read, nothing more
    assert late["madison"] == MADISON and late["policy"] == POLICY and late["fwupd_updates"] == UPDATES
    assert [c[0][:2] for c in fake[1:]] == [["apt-cache", "madison"], ["apt-cache", "policy"], ["fwupdmgr", "get-updates"]]


def test_late_phase_reads_only_the_deferred_parts(fake):
    late = pp.probe(spec(phase="late", parts=["fwupd"], madison_names=["x"]))
    assert "madison" not in late and "policy" not in late and late["fwupd_updates"] == UPDATES
    assert [c[0][0] for c in fake] == ["fwupdmgr"]


def test_what_is_not_asked_for_is_not_read(fake):
    out = pp.probe(spec(cpuinfo=False, policy_names=[], fwupd=False))
    assert out["cpuinfo"] == out["policy"] == out["fwupdmgr"] == out["fwupd_updates"] == ""
    assert [c[0][:2] for c in fake] == [["dpkg-query", "-W"], ["apt-cache", "madison"]]
    fake.clear()
    out = pp.probe(spec(apt=False))  # not apt-based: only fwupd and the marker
    assert out["dpkg"] == out["madison"] == out["policy"] == out["cpuinfo"] == ""
    assert [c[0][0] for c in fake] == ["fwupdmgr"]


def test_no_madison_call_without_installed_packages(monkeypatch, fake):
    monkeypatch.setattr(pp, "run", lambda argv, ok_rcs=(0,): fake.append(argv) or ("" if argv[0] == "dpkg-query" else POLICY))
    out = pp.probe(spec(fwupd=False))
    assert out["madison_names"] == [] and out["madison"] == ""
    assert [a[:2] for a in fake] == [["dpkg-query", "-W"], ["apt-cache", "policy"]]


def test_migration_asks_for_the_names_on_the_target_branch():
    names = pp.madison_names(DPKG, ["intel-microcode"], ["535", "570"])
    assert names == ["nvidia-driver-535-server", "nvidia-utils-535-server", "nvidia-container-toolkit",
                     "nvidia-driver-570-server", "nvidia-utils-570-server"]
    assert pp.madison_names("ii \tlibnvidia-gl-5350\t1\n", [], ["535", "570"]) == ["libnvidia-gl-5350"]


def test_apt_lists_stale_follows_the_apt_module_rule(monkeypatch, tmp_path):
    stamp, lists = tmp_path / "stamp", tmp_path / "lists"
    monkeypatch.setattr(pp, "APT_UPDATE_SUCCESS_STAMP_PATH", str(stamp))
    monkeypatch.setattr(pp, "APT_LISTS_PATH", str(lists))
    now = time.time()
    assert pp.apt_lists_stale(0) is False  # 0: never refresh
    assert pp.apt_lists_stale(3600, now) is True  # neither exists: mtime 0
    lists.mkdir()
    os.utime(str(lists), (now - 100, now - 100))
    assert pp.apt_lists_stale(3600, now) is False
    assert pp.apt_lists_stale(50, now) is True
    stamp.write_text("")
    os.utime(str(stamp), (now - 7200, now - 7200))  # the stamp wins over the lists directory
    assert pp.apt_lists_stale(3600, now) is True


def test_probe_output_feeds_the_plan(fake):
    out = pp.probe(spec())
    facts = {"aisec_gpu": {"driver": {"version": "535.183.01", "package_version": "535.183.01", "branch": "R535",
                                      "install_method": "package"},
                           "container_toolkit_version": "1.17.3"},
             "os_family": "Debian", "virtualization_type": "kvm",
             **{k: out[k] for k in ("dpkg", "madison", "policy", "cpuinfo", "fwupdmgr", "fwupd_updates")}}
    match = {"summary": {"nvidia_driver": {"name": "nvidia_driver", "finding_count": 1, "required_version": "535.230.02"}}}
    result = build_plan(facts, match, {"components": ["driver", "container_toolkit", "microcode", "firmware"]})
    assert result["plan"]["driver"]["action"] == "upgrade"
    assert result["plan"]["driver"]["packages"][0]["to"] == "535.230.02-0ubuntu0.22.04.1"
    assert result["plan"]["microcode"]["cpu_vendor"] == "GenuineIntel"
    assert result["plan"]["microcode"]["packages"][0]["to"] == "3.20250512.1~deb12u1"
    assert result["plan"]["firmware"]["action"] == "none"
    assert set(result["madison_names"]) <= set(out["madison_names"])


def _tool(directory, name, body):
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _main(tmp_path, data):
    env = dict(os.environ, AISEC_PATCHING_PROBE=json.dumps(data), PATH="%s:/usr/bin:/bin" % tmp_path)
    with open(SCRIPT, encoding="utf-8") as handle:
        return subprocess.run([sys.executable, "-"], input=handle.read(), env=env, capture_output=True, text=True,
                              check=False)


def test_script_end_to_end_with_stand_in_commands(tmp_path):
    _tool(tmp_path, "dpkg-query", 'printf "ii \\tnvidia-utils-535\\t535.1-1\\n"; exit 1')
    _tool(tmp_path, "apt-cache", 'echo "$@ LC_ALL=$LC_ALL"')
    _tool(tmp_path, "fwupdmgr", 'echo "{}"; exit 2')
    proc = _main(tmp_path, spec())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dpkg"] == "ii \tnvidia-utils-535\t535.1-1\n"
    assert out["madison"] == "madison nvidia-utils-535 LC_ALL=C\n"
    assert out["fwupdmgr"] == str(tmp_path / "fwupdmgr") and out["fwupd_updates"] == "{}\n"


def test_script_fails_with_the_reason(tmp_path):
    _tool(tmp_path, "dpkg-query", 'echo "dpkg-query: database is locked" >&2; exit 2')
    proc = _main(tmp_path, spec(fwupd=False))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "dpkg-query -W" in proc.stderr and "exited with 2" in proc.stderr and "database is locked" in proc.stderr

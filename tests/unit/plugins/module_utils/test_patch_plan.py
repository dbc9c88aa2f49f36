# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/module_utils/patch_plan.py (the patching role's plan), table-driven.

The host shapes mirror molecule/patching: patching-vuln (R535 535.183.01, toolkit 1.17.3, old microcode, fwupd
stand-in), patching-fixed (535.230.02, toolkit 1.17.8) and patching-unfixed (R550, migration to R570 opt-in).
"""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import patch_plan as pp

REV = "-0ubuntu1"
DRIVER_PKGS = ("nvidia-driver-{b}-server", "nvidia-utils-{b}-server", "libnvidia-compute-{b}-server")
TK_PKGS = ("nvidia-container-toolkit", "nvidia-container-toolkit-base")
ALL_COMPONENTS = ["driver", "container_toolkit", "microcode", "firmware"]


def dpkg_line(name, version, status="ii"):
    return "%s\t%s\t%s" % (status, name, version)


def madison_line(name, version, source="http://repo/aisec ./ Packages"):
    return "%s | %s | %s" % (name, version, source)


def driver_lines(branch, version, status="ii"):
    return [dpkg_line(p.format(b=branch), version + REV, status) for p in DRIVER_PKGS]


def offer(branch, *versions):
    return [madison_line(p.format(b=branch), v + REV) for v in versions for p in DRIVER_PKGS]


def gpu(branch="R535", version="535.183.01", toolkit="1.17.3", method="package", components=None):
    return {
        "driver": {"version": version, "package_version": version, "branch": branch, "install_method": method,
                   "loaded_version": version, "source": "nvidia-smi"},
        "container_toolkit_version": toolkit,
        "gpu_count": 2,
        "components": components if components is not None else [
            {"name": "nvidia_driver", "version": version, "family": "GeForce/RTX/Tesla"},
            {"name": "nvidia_container_toolkit", "version": toolkit},
        ],
    }


def summary(name, findings, required, unfixed=(), family=None):
    return {"name": name, "family": family, "finding_count": findings, "required_version": required,
            "unfixed": list(unfixed)}


FWUPD = json.dumps({"Devices": [
    {"DeviceId": "hmc0", "Name": "HGX_FW_HMC_0", "Guid": "guid-hmc", "Version": "1.5.0",
     "Releases": [{"Version": "1.6.0", "RemoteId": "lvfs", "Issues": ["CVE-2099-10004"]}]},
    {"DeviceId": "sys0", "Name": "System Firmware", "Guid": ["g1", "g2"], "Version": "2.1",
     "Releases": [{"Version": "2.2", "RemoteId": "lvfs", "Issues": []}]},
]})
POLICY_OLD = ("intel-microcode:\n  Installed: 3.20240813.2~deb12u1\n  Candidate: 3.20250512.1~deb12u1\n"
              "amd64-microcode:\n  Installed: (none)\n  Candidate: 3.20240820.1~deb12u1\n")


def vuln_host():
    """patching-vuln: everything vulnerable and fixable."""
    facts = {
        "aisec_gpu": gpu(),
        "os_family": "Debian",
        "virtualization_type": "docker",
        "dpkg": "\n".join(driver_lines("535", "535.183.01")
                          + [dpkg_line(p, "1.17.3-1") for p in TK_PKGS]
                          + [dpkg_line("intel-microcode", "3.20240813.2~deb12u1")]),
        "madison": "\n".join(offer("535", "535.230.02", "535.183.01")
                             + [madison_line(p, v) for p in TK_PKGS for v in ("1.17.8-1", "1.17.3-1")]),
        "policy": POLICY_OLD,
        "cpuinfo": "vendor_id\t: GenuineIntel",
        "fwupdmgr": "/usr/local/bin/fwupdmgr",
        "fwupd_updates": FWUPD,
    }
    match = {
        "summary": {
            "nvidia_driver:GeForce/RTX/Tesla": summary("nvidia_driver", 2, "535.230.02", family="GeForce/RTX/Tesla"),
            "nvidia_container_toolkit": summary("nvidia_container_toolkit", 1, "1.17.8"),
            "firmware:HGX H100 8-GPU": summary("firmware", 1, "1.6.0", family="HGX H100 8-GPU"),
        },
        "findings": [{"tracking_id": "AISEC-TEST-2025-0004", "cves": ["CVE-2099-10004"]},
                     {"tracking_id": "AISEC-TEST-2025-0001", "cves": ["CVE-2099-10001"]}],
    }
    options = {"components": list(ALL_COMPONENTS), "fwupd_remote": "lvfs"}
    return facts, match, options


def plan(facts, match, options):
    return pp.build_plan(facts, match, options)


# --- The hosts of the Molecule scenario ---------------------------------------------------------------------------


def test_vulnerable_host_gets_exact_required_versions():
    result = plan(*vuln_host())
    drv = result["plan"]["driver"]
    assert drv["action"] == "upgrade" and drv["target_version"] == "535.230.02" and drv["findings"] == 2
    assert [(p["name"], p["to"], p["renamed"]) for p in drv["packages"]] == [
        (p.format(b="535"), "535.230.02" + REV, False) for p in DRIVER_PKGS]
    assert drv["target_branch"] == "R535" and drv["branch"] == "R535"
    tk = result["plan"]["container_toolkit"]
    assert tk["action"] == "upgrade" and tk["target_version"] == "1.17.8"
    assert [(p["name"], p["from"], p["to"]) for p in tk["packages"]] == [(p, "1.17.3-1", "1.17.8-1") for p in TK_PKGS]
    assert result["madison_names"] == [p.format(b="535") for p in DRIVER_PKGS] + list(TK_PKGS)
    assert result["driver_migrating"] is False and result["migration_components"] == []


def test_vulnerable_host_microcode_and_firmware():
    result = plan(*vuln_host())
    mc = result["plan"]["microcode"]
    # a container: the vendor package is only kept current, amd64-microcode is never added
    assert mc["action"] == "upgrade" and mc["cpu_vendor"] == "GenuineIntel"
    assert mc["packages"] == [{"name": "intel-microcode", "from": "3.20240813.2~deb12u1",
                               "to": "3.20250512.1~deb12u1", "upgrade": True}]
    fw = result["plan"]["firmware"]
    devices = {d["name"]: d for d in fw["devices"]}
    assert fw["action"] == "update" and fw["remote"] == "lvfs"
    assert devices["HGX_FW_HMC_0"]["fixes"] == ["CVE-2099-10004"] and devices["HGX_FW_HMC_0"]["apply"] is True
    assert devices["HGX_FW_HMC_0"]["guids"] == ["guid-hmc"] and devices["HGX_FW_HMC_0"]["available"] == "1.6.0"
    assert devices["System Firmware"]["apply"] is False and devices["System Firmware"]["guids"] == ["g1", "g2"]


def test_fixed_host_is_untouched():
    facts, _match, options = vuln_host()
    facts["aisec_gpu"] = gpu(version="535.230.02", toolkit="1.17.8")
    facts["dpkg"] = "\n".join(driver_lines("535", "535.230.02") + [dpkg_line(p, "1.17.8-1") for p in TK_PKGS])
    facts["policy"] = "intel-microcode:\n  Installed: (none)\n  Candidate: (none)\n"
    facts["fwupdmgr"] = ""
    facts["fwupd_updates"] = ""
    result = plan(facts, {"summary": {}, "findings": []}, options)
    p = result["plan"]
    assert (p["driver"]["action"], p["container_toolkit"]["action"], p["firmware"]["action"]) == ("none", "none", "absent")
    assert p["driver"]["target_version"] is None and p["container_toolkit"]["target_version"] is None
    # a container never gets the vendor package added: nothing to do
    assert p["microcode"]["action"] == "none" and p["microcode"]["packages"] == []


def test_unfixed_branch_is_report_only():
    facts, _match, options = vuln_host()
    facts["aisec_gpu"] = gpu(branch="R550", version="550.127.05")
    facts["dpkg"] = "\n".join(driver_lines("550", "550.127.05"))
    facts["madison"] = "\n".join(offer("550", "550.144.03", "550.127.05"))
    match = {"summary": {"nvidia_driver:x": summary("nvidia_driver", 1, None, ["AISEC-TEST-2025-0002"], "x")},
             "findings": [{"tracking_id": "AISEC-TEST-2025-0002", "cves": ["CVE-2099-10002"]}]}
    drv = plan(facts, match, options)["plan"]["driver"]
    assert drv["action"] == "unfixed" and drv["unfixed"] == ["AISEC-TEST-2025-0002"]
    assert drv["target_version"] is None and all(p["to"] == "" for p in drv["packages"])


def _migration_host(migration_summary=True, offered=("570.195.03", "570.211.01")):
    facts, _match, options = vuln_host()
    facts["aisec_gpu"] = gpu(branch="R550", version="550.127.05")
    facts["dpkg"] = "\n".join(driver_lines("550", "550.127.05"))
    facts["madison"] = "\n".join(offer("570", *offered))
    if migration_summary:
        facts["migration_match"] = {"summary": {
            "a": summary("nvidia_driver", 2, "570.195.03", family="x"),
            "b": summary("nvidia_driver", 1, "570.172.08", family="x"),
            "c": summary("nvidia_container_toolkit", 1, "9.9.9")}}
    match = {"summary": {"k": summary("nvidia_driver", 1, None, ["AISEC-TEST-2025-0002"], "x")}}
    options.update(driver_branch="570", driver_branch_migration=True)
    return facts, match, options


def test_branch_migration_opt_in():
    result = plan(*_migration_host())
    drv = result["plan"]["driver"]
    assert result["driver_migrating"] is True and result["target_branch"] == "R570"
    assert drv["action"] == "migrate" and drv["target_version"] == "570.195.03" and drv["target_branch"] == "R570"
    assert [(p["old_name"], p["name"], p["renamed"], p["to"]) for p in drv["packages"]] == [
        (p.format(b="550"), p.format(b="570"), True, "570.195.03" + REV) for p in DRIVER_PKGS]
    assert result["migration_components"] == [{"name": "nvidia_driver", "version": "570.0", "family": "x"}]
    assert result["madison_names"] == [p.format(b="570") for p in DRIVER_PKGS]


def test_branch_pinned_without_opt_in_does_not_migrate():
    facts, match, options = _migration_host()
    options["driver_branch_migration"] = False
    result = plan(facts, match, options)
    assert result["driver_migrating"] is False and result["plan"]["driver"]["action"] == "unfixed"
    assert result["plan"]["driver"]["target_branch"] == "R550" and result["migration_components"] == []


@pytest.mark.parametrize("summary_present, offered, action", [
    (False, ("570.195.03",), "no_target"),
    (True, ("570.211.01",), "unavailable"),
    (True, ("570.195.03",), "migrate"),
])
def test_branch_migration_outcomes(summary_present, offered, action):
    assert plan(*_migration_host(summary_present, offered))["plan"]["driver"]["action"] == action


# --- Driver and toolkit decision table ----------------------------------------------------------------------------


def _mutate(**changes):
    facts, match, options = vuln_host()
    for key, value in changes.items():
        where, name = key.split("__", 1)
        {"facts": facts, "match": match, "options": options, "gpu": facts["aisec_gpu"],
         "drv": facts["aisec_gpu"]["driver"]}[where][name] = value
    return facts, match, options


@pytest.mark.parametrize("changes, driver_action, toolkit_action", [
    ({"facts__os_family": "RedHat"}, "unsupported_platform", "unsupported_platform"),
    ({"drv__version": None, "drv__package_version": None, "gpu__container_toolkit_version": None}, "absent", "absent"),
    ({"drv__install_method": "runfile"}, "not_packaged", "upgrade"),
    ({"facts__dpkg": dpkg_line("nvidia-container-toolkit", "1.17.3-1")}, "not_packaged", "upgrade"),
    ({"facts__dpkg": "\n".join(driver_lines("535", "535.183.01"))}, "upgrade", "not_packaged"),
    ({"match__summary": {}}, "none", "none"),
    ({"facts__madison": ""}, "unavailable", "unavailable"),
    ({"drv__package_version": "535.230.2",
      "facts__dpkg": "\n".join(driver_lines("535", "535.230.2") + [dpkg_line(p, "1.17.3-1") for p in TK_PKGS])},
     "none", "upgrade"),  # intdot: 535.230.2 == 535.230.02
    ({"facts__dpkg": "\n".join(driver_lines("535", "535.183.01", "hi")
                               + [dpkg_line(p, "1:1.18.0-1") for p in TK_PKGS])}, "upgrade", "none"),
    ({"facts__dpkg": "\n".join(driver_lines("535", "535.183.01", "rc"))}, "not_packaged", "not_packaged"),
])
def test_driver_and_toolkit_actions(changes, driver_action, toolkit_action):
    result = plan(*_mutate(**changes))["plan"]
    assert (result["driver"]["action"], result["container_toolkit"]["action"]) == (driver_action, toolkit_action)


def test_highest_required_version_of_several_summaries_wins():
    facts, match, options = vuln_host()
    match["summary"]["nvidia_driver:other"] = summary("nvidia_driver", 3, "535.247.01", ["ID-9"], "other")
    match["summary"]["nvidia_driver:third"] = summary("nvidia_driver", 1, "535.99.1", ["ID-9", "ID-8"], "third")
    facts["madison"] += "\n" + "\n".join(offer("535", "535.247.01"))
    drv = plan(facts, match, options)["plan"]["driver"]
    assert drv["target_version"] == "535.247.01" and drv["findings"] == 6 and drv["unfixed"] == ["ID-9", "ID-8"]
    assert {p["to"] for p in drv["packages"]} == {"535.247.01" + REV}


def test_toolkit_required_but_unfixed_and_disabled_components_are_flagged():
    facts, match, options = vuln_host()
    match["summary"]["nvidia_container_toolkit"] = summary("nvidia_container_toolkit", 1, "", ["ID-T"])
    options["components"] = ["microcode"]
    result = plan(facts, match, options)["plan"]
    assert result["container_toolkit"]["action"] == "unfixed" and result["container_toolkit"]["unfixed"] == ["ID-T"]
    assert not result["driver"]["enabled"] and not result["container_toolkit"]["enabled"]
    assert result["firmware"]["action"] == "not_assessed" and result["firmware"]["enabled"] is False
    assert result["microcode"]["enabled"] is True


def test_driver_packages_exclude_toolkit_and_other_versions():
    facts, match, options = vuln_host()
    facts["dpkg"] += "\n" + "\n".join([dpkg_line("libnvidia-container1", "1.17.3-1"),
                                       dpkg_line("nvidia-kernel-common-470", "470.1-1")])
    result = plan(facts, match, options)
    names = [p["name"] for p in result["plan"]["driver"]["packages"]]
    assert names == [p.format(b="535") for p in DRIVER_PKGS]
    assert "libnvidia-container1" in [p["name"] for p in result["plan"]["container_toolkit"]["packages"]]


def test_source_lines_of_madison_are_ignored():
    facts, match, options = vuln_host()
    facts["madison"] = "\n".join(madison_line(p.format(b="535"), "535.230.02" + REV, "http://r ./ Sources")
                                 for p in DRIVER_PKGS)
    assert plan(facts, match, options)["plan"]["driver"]["action"] == "unavailable"


# --- Microcode ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("virt, install, cpuinfo, dpkg, policy, action, names", [
    ("kvm", True, "vendor_id : AuthenticAMD", "", POLICY_OLD, "upgrade", ["amd64-microcode"]),
    ("kvm", False, "vendor_id : AuthenticAMD", "", POLICY_OLD, "none", []),  # vendor known, install off
    ("kvm", False, "vendor_id : VIA", "", POLICY_OLD, "not_applicable", []),
    ("kvm", True, "vendor_id : AuthenticAMD", "", "", "unavailable", ["amd64-microcode"]),
    ("kvm", True, "", "", POLICY_OLD, "not_applicable", []),  # ARM: no vendor_id
    ("lxc", True, "vendor_id : AuthenticAMD", "", POLICY_OLD, "none", []),  # a container: never added
    ("kvm", True, "vendor_id : GenuineIntel", dpkg_line("intel-microcode", "3.20250512.1~deb12u1"), POLICY_OLD,
     "none", ["intel-microcode"]),
])
def test_microcode(virt, install, cpuinfo, dpkg, policy, action, names):
    facts, match, options = vuln_host()
    facts.update(virtualization_type=virt, cpuinfo=cpuinfo, dpkg=dpkg, policy=policy)
    options["microcode_install"] = install
    mc = plan(facts, match, options)["plan"]["microcode"]
    assert mc["action"] == action and [p["name"] for p in mc["packages"]] == names


def test_microcode_not_in_components_is_not_assessed():
    facts, match, options = vuln_host()
    options["components"] = ["driver"]
    mc = plan(facts, match, options)["plan"]["microcode"]
    assert mc == {"enabled": False, "action": "not_assessed", "cpu_vendor": "GenuineIntel", "packages": []}


# --- Firmware -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("remote, allow, findings, applied, action", [
    ("lvfs", [], None, ["HGX_FW_HMC_0"], "update"),                        # fix-only
    ("lvfs", ["sys0"], None, ["HGX_FW_HMC_0", "System Firmware"], "update"),  # allowed by DeviceId
    ("lvfs", ["g2"], None, ["HGX_FW_HMC_0", "System Firmware"], "update"),    # allowed by GUID
    ("lvfs", ["System Firmware"], [], ["System Firmware"], "update"),       # allowed by name, no findings
    ("lvfs", [], [], [], "report"),                                          # nothing fixes a finding
    ("mirror", ["sys0"], None, [], "report"),                                # releases of another remote
])
def test_firmware_allow_and_fix_only(remote, allow, findings, applied, action):
    facts, match, options = vuln_host()
    options.update(fwupd_remote=remote, firmware_allow=allow)
    if findings is not None:
        match["findings"] = findings
    fw = plan(facts, match, options)["plan"]["firmware"]
    assert [d["name"] for d in fw["devices"] if d["apply"]] == applied and fw["action"] == action


def test_firmware_prefers_releases_of_the_own_remote_and_counts_all_their_issues():
    facts, match, options = vuln_host()
    facts["fwupd_updates"] = json.dumps({"Devices": [
        {"DeviceId": "d", "Name": "N", "Version": "1", "Releases": [
            {"Version": "9", "RemoteId": "other", "Issues": ["CVE-2099-10001"]},
            {"Version": "3", "RemoteId": "lvfs", "Issues": ["CVE-2099-10004"]},
            {"Version": "2", "RemoteId": "lvfs", "Issues": ["CVE-2099-10001", "CVE-2099-10004"]},
            "junk"]},
        "junk", {"Name": "no releases"}]})
    fw = plan(facts, match, options)["plan"]["firmware"]
    dev = fw["devices"][0]
    assert (dev["available"], dev["remote"], dev["issues"]) == ("3", "lvfs", ["CVE-2099-10004", "CVE-2099-10001"])
    assert dev["fixes"] == ["CVE-2099-10004", "CVE-2099-10001"] and dev["apply"] is True
    assert fw["devices"][1]["apply"] is False and fw["devices"][1]["available"] == ""


@pytest.mark.parametrize("fwupdmgr, stdout, action", [
    ("", "", "absent"),
    ("/usr/bin/fwupdmgr", "No updates available", "none"),
    ("/usr/bin/fwupdmgr", '{"Devices": []}', "none"),
    ("/usr/bin/fwupdmgr", "[1, 2]", "none"),
])
def test_firmware_without_updates(fwupdmgr, stdout, action):
    facts, match, options = vuln_host()
    facts.update(fwupdmgr=fwupdmgr, fwupd_updates=stdout)
    assert plan(facts, match, options)["plan"]["firmware"]["action"] == action


# --- Components ---------------------------------------------------------------------------------------------------


def test_components_not_evaluated_and_deduplicated():
    comps = [
        {"name": "nvidia_driver", "version": "535.183.01"},                      # no family
        {"name": "nvidia_vbios", "version": "96.00", "family": None},            # family null
        {"name": "firmware", "version": "1.0", "family": ""},                    # empty family
        {"name": "nvidia_container_toolkit", "version": "1.17.3"},
        {"name": "nvidia_container_toolkit", "version": "1.17.4"},               # duplicate: first wins
        {"name": "firmware", "version": "1.5.0", "family": "HGX"},
    ]
    extra = [{"name": "firmware", "version": "1.4.0", "family": "HGX"}, {"name": "dynamo", "version": "0.1"}]
    selected, skipped = pp.select_components(comps, extra)
    assert [c["version"] for c in selected] == ["1.17.3", "1.5.0", "0.1"]
    assert [c["name"] for c in skipped] == ["nvidia_driver", "nvidia_vbios", "firmware"]
    facts, match, options = vuln_host()
    facts["aisec_gpu"]["components"] = comps
    options["extra_components"] = extra
    result = plan(facts, match, options)
    assert result["components"] == selected and result["not_evaluated"] == skipped


# --- Parsers and helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("", ""), (None, ""), (False, ""), ("570", "R570"), ("r570", "R570"), ("R0570", "R570"), (535, "R535"),
    (" R1000 ", "R1000"),
])
def test_target_branch(value, expected):
    assert pp.target_branch(value) == expected


@pytest.mark.parametrize("value", ["R57", "570.1", "RR570", "x", True, "R12345"])
def test_target_branch_rejects_garbage(value):
    with pytest.raises(pp.PatchPlanError, match="patching_driver_branch"):
        pp.target_branch(value)


@pytest.mark.parametrize("version, upstream", [
    ("535.230.02-0ubuntu1", "535.230.02"), ("1:1.17.8-1", "1.17.8"), ("3.2", "3.2"),
    ("2:550.1-1-2", "550.1-1"), ("1.14.0~rc.2-1", "1.14.0~rc.2"),
])
def test_upstream_version(version, upstream):
    assert pp.upstream_version(version) == upstream


def test_parsers_skip_noise():
    dpkg = pp.parse_dpkg("ii\ta\t1.0-1\nrc\tb\t2.0-1\nhi\tc\t1:3.0-1\nbroken line\n\n")
    assert dpkg == [{"name": "a", "version": "1.0-1", "upstream": "1.0", "held": False},
                    {"name": "c", "version": "1:3.0-1", "upstream": "3.0", "held": True}]
    assert pp.parse_madison("a | 1.0-1 | http://x Packages\nnoise\nb | 2-1 | http://x Sources\n") == [
        {"name": "a", "version": "1.0-1", "upstream": "1.0"}]
    assert pp.parse_policy(POLICY_OLD + "  Version table:\n     3.2 500\n") == {
        "intel-microcode": "3.20250512.1~deb12u1", "amd64-microcode": "3.20240820.1~deb12u1"}
    assert pp.cpu_vendor("vendor_id\t: AuthenticAMD\n") == "AuthenticAMD" and pp.cpu_vendor("") == ""


def test_skipped_probes_and_empty_inputs_give_a_plan():
    result = pp.build_plan({}, {}, {})
    assert result["plan"]["driver"]["action"] == "unsupported_platform"
    assert result["plan"]["firmware"]["action"] == "not_assessed" and result["components"] == []
    debian = pp.build_plan({"os_family": "Debian", "aisec_gpu": None, "dpkg": None}, None, {"components": ALL_COMPONENTS})
    assert debian["plan"]["driver"]["action"] == "absent" and debian["plan"]["firmware"]["action"] == "absent"
    assert debian["plan"]["microcode"]["action"] == "not_applicable"


def test_inputs_are_not_modified():
    facts, match, options = vuln_host()
    snapshot = copy.deepcopy((facts, match, options))
    plan(facts, match, options)
    assert (facts, match, options) == snapshot


TWO_REQUIRED = {"a": summary("nvidia_driver", 1, "1.0"), "b": summary("nvidia_driver", 1, "next")}


@pytest.mark.parametrize("facts, match, options, message", [
    ([], {}, {}, "facts must be a mapping"),
    ({"bogus": 1}, {}, {}, "unknown key"),
    ({}, {}, {"componentz": []}, "unknown key"),
    ({}, {}, {"components": "driver"}, "patching_components must be a list"),
    ({}, {}, {"driver_branch_migration": "maybe"}, "patching_driver_branch_migration must be a boolean"),
    ({}, {}, {"fwupd_remote": ""}, "patching_fwupd_remote"),
    ({}, {}, {"extra_components": ["firmware"]}, "component 0 must be a mapping"),
    ({"dpkg": 5}, {}, {}, "probe output must be text"),
    ({"fwupdmgr": "/x", "fwupd_updates": "{not json"}, {}, {"components": ["firmware"]}, "invalid JSON"),
    ({"os_family": "Debian"}, {"summary": TWO_REQUIRED}, {}, "not a dot-separated"),
    ({}, {"summary": []}, {}, "summary must be a mapping"),
])
def test_invalid_input_fails_clearly(facts, match, options, message):
    with pytest.raises(pp.PatchPlanError, match=message):
        pp.build_plan(facts, match, options)


def test_string_booleans_are_accepted():
    facts, match, options = _migration_host()
    options["driver_branch_migration"] = "yes"
    options["microcode_install"] = "false"
    assert plan(facts, match, options)["driver_migrating"] is True


# --- csaf_match's undecided state and branch changes (issue #12) ---------------------------------------------------


def test_undecided_component_is_never_nothing_to_do():
    facts, match, options = vuln_host()
    drv = summary("nvidia_driver", 0, None, family="GeForce/RTX/Tesla")
    drv.update(status="undecided", undecided=["5703"], undecided_reasons=["5703: fix text not understood"])
    tk = summary("nvidia_container_toolkit", 0, None)
    tk.update(status="undecided", undecided=["5850"], undecided_reasons=["5850: the document could not be used"])
    match["summary"] = {"nvidia_driver:GeForce/RTX/Tesla": drv, "nvidia_container_toolkit": tk,
                        "cuda_toolkit": dict(summary("cuda_toolkit", 0, None), status="undecided", undecided=["5755"],
                                             undecided_reasons=["5755: x"])}
    result = plan(facts, match, options)
    assert result["plan"]["driver"]["action"] == "undecided"
    assert result["plan"]["driver"]["undecided_reasons"] == ["5703: fix text not understood"]
    assert result["plan"]["container_toolkit"]["action"] == "undecided"
    assert [c["key"] for c in result["undecided_components"]] == [
        "cuda_toolkit", "nvidia_container_toolkit", "nvidia_driver:GeForce/RTX/Tesla"]


def test_undecided_does_not_block_the_fixable_part():
    facts, match, options = vuln_host()
    match["summary"]["nvidia_driver:GeForce/RTX/Tesla"].update(undecided=["5703"], undecided_reasons=["5703: x"])
    drv = plan(facts, match, options)["plan"]["driver"]
    assert drv["action"] == "upgrade" and drv["target_version"] == "535.230.02" and drv["undecided"] == ["5703"]


def test_branch_change_is_reported_not_done():
    facts, _match, options = vuln_host()
    facts["aisec_gpu"] = gpu(branch="R550", version="550.163.01")
    facts["dpkg"] = "\n".join(driver_lines("550", "550.163.01"))
    facts["madison"] = "\n".join(offer("550", "550.163.01"))
    s = summary("nvidia_driver", 4, None, ["5670", "5703", "5747", "5821"], "x")
    s.update(branch_change_required=True, branch_change_version="580.159.03")
    drv = plan(facts, {"summary": {"nvidia_driver:x": s}, "findings": []}, options)["plan"]["driver"]
    assert drv["action"] == "branch_change" and drv["branch_change_version"] == "580.159.03"
    assert drv["target_version"] is None and all(p["to"] == "" for p in drv["packages"])
    # an in-branch fix still due is applied first
    s.update(required_version="550.163.05")
    facts["madison"] = "\n".join(offer("550", "550.163.05", "550.163.01"))
    drv = plan(facts, {"summary": {"nvidia_driver:x": s}, "findings": []}, options)["plan"]["driver"]
    assert drv["action"] == "upgrade" and drv["branch_change_required"] is True

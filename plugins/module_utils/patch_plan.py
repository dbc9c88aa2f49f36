# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-host patch plan of the aisec.gpu_host.patching role, as pure functions.

:func:`build_plan` turns what the role's read-only probes found (gpu_facts, dpkg-query, apt-cache madison and
policy, /proc/cpuinfo, fwupdmgr) and what ``aisec.gpu_host.csaf_match`` reported into the plan the role
executes: for the GPU driver, the NVIDIA Container Toolkit, the CPU microcode and fwupd firmware, the action
and the exact packages/devices to move. Nothing here touches a host; the role's tasks run the probes and act.

Versions are compared as ``intdot`` (dot-separated integers, :func:`vers.intdot_key`), the scheme of NVIDIA's
advisories; Debian epochs and revisions are stripped first to get the upstream version.

Only the Python standard library is used (Python >= 3.8).
"""

from __future__ import annotations

import json
import re

from ansible_collections.aisec.gpu_host.plugins.module_utils.vers import VersError, intdot_key

__all__ = [
    "PatchPlanError",
    "build_plan",
    "select_components",
    "target_branch",
    "parse_dpkg",
    "parse_madison",
    "parse_policy",
    "cpu_vendor",
    "upstream_version",
    "undecided_components",
    "CONTAINER_TYPES",
    "FAMILY_REQUIRED",
    "TOOLKIT_PACKAGES",
]

#: Virtualisation types that mean "this host is a container" (no reboot, no firmware, no vendor microcode).
CONTAINER_TYPES = ("docker", "container", "podman", "lxc")
#: csaf_match needs a family for these components; entries without one are not evaluated.
FAMILY_REQUIRED = ("nvidia_driver", "nvidia_vbios", "firmware")
#: A package belongs to the installed driver when its name matches this and its upstream version is the
#: driver's package version (Ubuntu nvidia-*-<br>-server, NVIDIA's cuda-drivers-<br>, Debian's nvidia-driver).
DRIVER_PACKAGE_RE = re.compile(
    r"^(nvidia-|libnvidia-|cuda-drivers|libcuda|libnvcuvid|libnvoptix|xserver-xorg-video-nvidia|libxnvctrl"
    r"|firmware-nvidia)"
)
#: ... but not the Container Toolkit, whose packages carry their own versions.
TOOLKIT_PACKAGE_RE = re.compile(r"^(nvidia-container-|libnvidia-container)")
TOOLKIT_PACKAGES = (
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "libnvidia-container-tools",
    "libnvidia-container1",
)
MICROCODE_PACKAGES = {"GenuineIntel": "intel-microcode", "AuthenticAMD": "amd64-microcode"}
MICROCODE_ALL = ("intel-microcode", "amd64-microcode")

_BRANCH_RE = re.compile(r"^[Rr]?([0-9]{3,4})\Z")
_EPOCH_RE = re.compile(r"^[0-9]+:")
_REVISION_RE = re.compile(r"-[^-]*\Z")
_VENDOR_RE = re.compile(r"vendor_id\s*:\s*(\S+)")
_POLICY_NAME_RE = re.compile(r"^\S.*:\Z")
_POLICY_CANDIDATE_RE = re.compile(r"^\s+Candidate:")
_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f", "")


class PatchPlanError(ValueError):
    """The inputs cannot give a plan (bad option, unreadable probe output); the message says why."""


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PatchPlanError("%s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise PatchPlanError("%s must be a list, got %s" % (what, type(value).__name__))
    return list(value)


def _text(value):
    """A probe's stdout ('' for a skipped probe)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PatchPlanError("probe output must be text, got %s" % type(value).__name__)
    return value


def _bool(value, what):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise PatchPlanError("%s must be a boolean, got %r" % (what, value))


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _flatten(lists):
    out = []
    for item in lists:
        if isinstance(item, (list, tuple)):
            out.extend(item)
        elif item is not None:
            out.append(item)
    return out


def _key(version, what):
    """intdot comparison key of a version this plan must understand (a leading v/V is ignored)."""
    text = str(version)
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return intdot_key(text)
    except VersError as exc:
        raise PatchPlanError("%s %r is not a dot-separated version: %s" % (what, version, exc)) from None


def _same_version(candidate, target):
    """True when a repository version equals the target (unparsable candidates never match)."""
    try:
        return intdot_key(candidate) == _key(target, "target version")
    except VersError:
        return False


def _at_least(version, minimum, what):
    """True when version >= minimum (an unparsable installed version counts as older)."""
    try:
        have = intdot_key(str(version))
    except VersError:
        return False
    return have >= _key(minimum, what)


def _highest(versions, what):
    best = ""
    for version in versions:
        if version and (not best or _key(version, what) > _key(best, what)):
            best = version
    return best


def upstream_version(version):
    """Debian version without epoch and revision: ``1:535.230.02-0ubuntu1`` -> ``535.230.02``."""
    return _REVISION_RE.sub("", _EPOCH_RE.sub("", version))


# ---------------------------------------------------------------------------
# Probe parsers
# ---------------------------------------------------------------------------


def parse_dpkg(stdout):
    """Installed packages from ``dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\n'``.

    Returns ``[{name, version, upstream, held}]`` for packages whose status is installed (``?i``).
    """
    out = []
    for line in _text(stdout).splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0][1:2] == "i":
            out.append({
                "name": fields[1],
                "version": fields[2],
                "upstream": upstream_version(fields[2]),
                "held": fields[0][0:1] == "h",
            })
    return out


def parse_madison(stdout):
    """Binary package versions the repositories offer, from ``apt-cache madison``: ``[{name, version, upstream}]``."""
    out = []
    for line in _text(stdout).splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 3 and not fields[2].endswith("Sources"):
            out.append({"name": fields[0], "version": fields[1], "upstream": upstream_version(fields[1])})
    return out


def parse_policy(stdout):
    """apt's candidate per package from ``apt-cache policy``: ``{name: version}`` (``(none)`` when not offered)."""
    out = {}
    name = ""
    for line in _text(stdout).splitlines():
        if _POLICY_NAME_RE.match(line):
            name = line[:-1]
        elif name and _POLICY_CANDIDATE_RE.match(line):
            out[name] = line.split(":", 1)[1].strip()
    return out


def cpu_vendor(stdout):
    """The CPU vendor (``GenuineIntel``, ``AuthenticAMD``) from the vendor_id line of /proc/cpuinfo, or ''."""
    match = _VENDOR_RE.search(_text(stdout))
    return match.group(1) if match else ""


def target_branch(driver_branch):
    """The pinned driver branch as ``R<major>`` (``570``, ``r570``, ``R570`` -> ``R570``), '' when unset."""
    if driver_branch is None or isinstance(driver_branch, bool):
        if driver_branch in (None, False):
            return ""
        raise PatchPlanError("patching_driver_branch must be a driver branch such as R570, got %r" % driver_branch)
    text = str(driver_branch).strip()
    if not text:
        return ""
    match = _BRANCH_RE.match(text)
    if not match:
        raise PatchPlanError("patching_driver_branch must be a driver branch such as R570 or 570, got %r" % text)
    return "R%d" % int(match.group(1))


def _has_family(component):
    return bool(component.get("family"))


def select_components(discovered, extra=None):
    """Components to hand to csaf_match, and those that cannot be evaluated.

    ``discovered`` (gpu_facts) and ``extra`` (patching_extra_components) are concatenated. Components that
    csaf_match needs a family for but that lack one are returned as ``not_evaluated``; of the rest, the first
    entry per name and family wins. Returns ``(components, not_evaluated)``.
    """
    components, not_evaluated, seen = [], [], set()
    everything = _list(discovered, "aisec_gpu.components") + _list(extra, "patching_extra_components")
    for index, comp in enumerate(everything):
        if not isinstance(comp, dict) or not comp.get("name"):
            raise PatchPlanError("component %d must be a mapping with a name, got %r" % (index, comp))
        if comp["name"] in FAMILY_REQUIRED and not _has_family(comp):
            not_evaluated.append(comp)
            continue
        key = (comp["name"], comp.get("family") or "")
        if key not in seen:
            seen.add(key)
            components.append(comp)
    return components, not_evaluated


# ---------------------------------------------------------------------------
# Plan per component
# ---------------------------------------------------------------------------


def _candidates(madison, name, target):
    for entry in madison:
        if entry["name"] == name and _same_version(entry["upstream"], target or "0"):
            return entry["version"]
    return ""


def _summaries(match_result):
    summary = _mapping(_mapping(match_result, "csaf_match result").get("summary"), "csaf_match summary")
    return [s for s in summary.values() if isinstance(s, dict)]


def _undecided(summaries):
    """(tracking ids, reasons) of advisories csaf_match could not decide for these summaries."""
    ids = _unique(_flatten(_list(s.get("undecided"), "csaf_match summary undecided") for s in summaries))
    reasons = _unique(_flatten(_list(s.get("undecided_reasons"), "csaf_match summary undecided_reasons")
                               for s in summaries))
    return ids, reasons


def _branch_change(summaries, what):
    """(branch change required, highest branch_change_version of the summaries that need one)."""
    needed = [s for s in summaries if s.get("branch_change_required")]
    return bool(needed), _highest((s.get("branch_change_version") for s in needed), what) or None


def undecided_components(match_result):
    """Every component csaf_match left undecided: ``[{key, name, status, undecided, reasons}]`` (sorted by key).

    The role reports them; a plan never says "nothing to do" for them.
    """
    summary = _mapping(_mapping(match_result, "csaf_match result").get("summary"), "csaf_match summary")
    out = []
    for key in sorted(summary):
        s = summary[key]
        if isinstance(s, dict) and s.get("undecided"):
            out.append({"key": key, "name": s.get("name"), "status": s.get("status"),
                        "undecided": list(s.get("undecided")), "reasons": list(s.get("undecided_reasons") or [])})
    return out


def _decide(findings, required, installed_ok, undecided, branch_change, missing):
    """The action once platform, presence and packaging are settled (driver and toolkit alike).

    ``installed_ok``: a callable telling whether every installed package is at least ``required``.
    Never ``none`` while an advisory is undecided or a branch change is needed.
    """
    if findings == 0:
        return "undecided" if undecided else "none"
    if required and not installed_ok():
        return "unavailable" if missing else "upgrade"
    if branch_change:
        return "branch_change"
    if not required:
        return "unfixed"
    return "undecided" if undecided else "none"


def _driver(ctx):
    drv = ctx["driver"]
    summaries = [s for s in ctx["summaries"] if s.get("name") == "nvidia_driver"]
    findings = sum(int(s.get("finding_count") or 0) for s in summaries)
    unfixed = _unique(_flatten(s.get("unfixed") or [] for s in summaries))
    required = _highest((s.get("required_version") for s in summaries), "required driver version")
    undecided, undecided_reasons = _undecided(summaries)
    branch_change, branch_change_version = _branch_change(summaries, "branch change version")
    package_version = drv.get("package_version") or ""
    installed = [
        p for p in ctx["dpkg"]
        if DRIVER_PACKAGE_RE.match(p["name"]) and not TOOLKIT_PACKAGE_RE.match(p["name"])
        and p["upstream"] == package_version
    ]
    branch = drv.get("branch") or ""
    target = ctx["target_branch"]
    migrating = bool(target and branch and target != branch and ctx["migration"])
    migration_required = _highest(
        (s.get("required_version") for s in _summaries(ctx["migration_match"]) if s.get("name") == "nvidia_driver"),
        "required driver version of the target branch",
    )
    old_major = (branch or "R0")[1:]
    new_major = target[1:] if migrating else old_major
    target_version = migration_required if migrating else required
    rename = re.compile(r"(?<![0-9])" + re.escape(old_major) + r"(?![0-9])") if old_major else None
    packages = []
    for pkg in installed:
        new = rename.sub(new_major, pkg["name"]) if rename else pkg["name"]
        packages.append({
            "name": new, "old_name": pkg["name"], "renamed": new != pkg["name"], "from": pkg["version"],
            "to": _candidates(ctx["madison"], new, target_version),
        })
    missing = any(p["to"] == "" for p in packages)

    if not ctx["apt"]:
        action = "unsupported_platform"
    elif not (drv.get("version") or package_version):
        action = "absent"
    elif drv.get("install_method") != "package" or not installed:
        action = "not_packaged"
    elif migrating and not migration_required:
        action = "no_target"
    elif migrating:
        action = "unavailable" if missing else "migrate"
    else:
        action = _decide(findings, required,
                         lambda: _at_least(package_version, required, "required driver version"),
                         undecided, branch_change, missing)

    plan = {
        "enabled": "driver" in ctx["components"],
        "action": action,
        "installed_version": drv.get("version"),
        "package_version": drv.get("package_version"),
        "branch": drv.get("branch"),
        "target_branch": target if migrating else drv.get("branch"),
        "target_version": target_version or None,
        "findings": findings,
        "unfixed": unfixed,
        "undecided": undecided,
        "undecided_reasons": undecided_reasons,
        "branch_change_required": branch_change,
        "branch_change_version": branch_change_version,
        "packages": packages,
    }
    queries = {
        "migrating": migrating,
        "madison_names": [rename.sub(new_major, p["name"]) if rename else p["name"] for p in installed],
        "migration_components": [
            {"name": "nvidia_driver", "version": target[1:] + ".0", "family": s.get("family")}
            for s in summaries
        ] if migrating else [],
    }
    return plan, queries


def _toolkit(ctx):
    version = ctx["facts"].get("container_toolkit_version") or ""
    summary = _mapping(
        _mapping(ctx["match"].get("summary"), "csaf_match summary").get("nvidia_container_toolkit"),
        "csaf_match summary of nvidia_container_toolkit",
    )
    required = summary.get("required_version") or ""
    findings = int(summary.get("finding_count") or 0)
    undecided, undecided_reasons = _undecided([summary] if summary else [])
    installed = [p for p in ctx["dpkg"] if p["name"] in TOOLKIT_PACKAGES]
    packages = [
        {"name": p["name"], "old_name": p["name"], "renamed": False, "from": p["version"],
         "to": _candidates(ctx["madison"], p["name"], required)}
        for p in installed
    ]
    if not ctx["apt"]:
        action = "unsupported_platform"
    elif not version:
        action = "absent"
    elif not installed:
        action = "not_packaged"
    else:
        action = _decide(findings, required,
                         lambda: all(_at_least(p["upstream"], required, "required Container Toolkit version")
                                     for p in installed),
                         undecided, False, any(p["to"] == "" for p in packages))
    return {
        "enabled": "container_toolkit" in ctx["components"],
        "action": action,
        "installed_version": version or None,
        "target_version": required or None,
        "findings": findings,
        "unfixed": list(summary.get("unfixed") or []),
        "undecided": undecided,
        "undecided_reasons": undecided_reasons,
        "packages": packages,
    }, [p["name"] for p in installed]


def _microcode(ctx):
    enabled = "microcode" in ctx["components"]
    vendor = cpu_vendor(ctx["cpuinfo"]).strip()
    vendor_package = MICROCODE_PACKAGES.get(vendor, "")
    installed = {p["name"]: p for p in ctx["dpkg"] if p["name"] in MICROCODE_ALL}
    names = list(installed)
    if ctx["microcode_install"] and vendor_package and not ctx["is_container"]:
        names.append(vendor_package)
    policy = parse_policy(ctx["policy"])
    packages = []
    for name in _unique(names):
        candidate = policy.get(name, "(none)")
        to = "" if candidate == "(none)" else candidate
        current = installed[name]["version"] if name in installed else ""
        # apt never proposes a candidate below the installed version: a different candidate is an upgrade.
        packages.append({"name": name, "from": current, "to": to, "upgrade": to != "" and to != current})
    if not ctx["apt"]:
        action = "unsupported_platform"
    elif any(p["upgrade"] for p in packages):
        action = "upgrade"
    elif any(p["to"] == "" and p["from"] == "" for p in packages):
        action = "unavailable"
    elif not packages and not vendor_package:
        action = "not_applicable"
    else:
        action = "none"
    return {
        "enabled": enabled,
        "action": action if enabled else "not_assessed",
        "cpu_vendor": vendor or None,
        "packages": packages if enabled else [],
    }


def _fwupd_json(stdout):
    text = _text(stdout).strip()
    if text[:1] != "{":
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PatchPlanError("fwupdmgr get-updates --json printed invalid JSON: %s" % exc) from None
    return data if isinstance(data, dict) else {}


def _firmware(ctx):
    enabled = "firmware" in ctx["components"]
    finding_cves = _unique(_flatten(f.get("cves") or [] for f in ctx["findings"] if isinstance(f, dict)))
    remote = ctx["fwupd_remote"]
    allow = ctx["firmware_allow"]
    devices = []
    raw_devices = _fwupd_json(ctx["fwupd_updates"]).get("Devices") or []
    for dev in raw_devices if isinstance(raw_devices, list) else []:
        if not isinstance(dev, dict):
            continue
        releases = [r for r in (dev.get("Releases") or []) if isinstance(r, dict)]
        own = [r for r in releases if "RemoteId" in r and r["RemoteId"] == remote]
        considered = own or releases
        release = considered[0] if considered else {}
        # fwupdmgr update installs the newest release, which is cumulative: every offered release's CVEs count.
        issues = _unique(_flatten(r.get("Issues") or [] for r in considered))
        fixes = [cve for cve in issues if cve in finding_cves]
        guid = dev.get("Guid") or []
        guids = [guid] if isinstance(guid, str) else list(guid)
        device_id = dev.get("DeviceId") or ""
        name = dev.get("Name") or ""
        available = release.get("Version") or ""
        allowed = any(a in allow for a in [device_id, name] + guids if a)
        devices.append({
            "device_id": device_id, "name": name, "guids": guids, "version": dev.get("Version") or "",
            "available": available, "remote": release.get("RemoteId") or "", "issues": issues, "fixes": fixes,
            "allowed": allowed, "apply": bool(own) and available != "" and (bool(fixes) or allowed),
        })
    if not ctx["fwupdmgr"].strip():
        action = "absent"
    elif any(d["apply"] for d in devices):
        action = "update"
    elif devices:
        action = "report"
    else:
        action = "none"
    return {
        "enabled": enabled,
        "action": action if enabled else "not_assessed",
        "remote": remote,
        "devices": devices,
    }


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

_FACT_KEYS = ("aisec_gpu", "os_family", "virtualization_type", "dpkg", "madison", "policy", "cpuinfo",
              "fwupdmgr", "fwupd_updates", "migration_match")
_OPTION_KEYS = ("components", "driver_branch", "driver_branch_migration", "microcode_install", "fwupd_remote",
                "firmware_allow", "extra_components")


def build_plan(facts, match_result, options):
    """Build the patch plan of one host.

    ``facts``: what the probes found, every key optional (a skipped probe is ''/{}):
    ``aisec_gpu`` (gpu_facts), ``os_family``, ``virtualization_type``, ``dpkg`` (dpkg-query stdout),
    ``madison`` (apt-cache madison stdout), ``policy`` (apt-cache policy stdout), ``cpuinfo`` (vendor_id line),
    ``fwupdmgr`` (path of fwupdmgr or ''), ``fwupd_updates`` (fwupdmgr get-updates --json stdout),
    ``migration_match`` (csaf_match result for the lowest version of the target branch).

    ``match_result``: the csaf_match result for the installed components (``summary``, ``findings``).

    ``options``: ``components`` (patching_components), ``driver_branch``, ``driver_branch_migration``,
    ``microcode_install``, ``fwupd_remote``, ``firmware_allow``, ``extra_components``.

    Returns ``{plan: {driver, container_toolkit, microcode, firmware}, target_branch, is_container, apt,
    components, not_evaluated, undecided_components, driver_migrating, madison_names, migration_components}``.
    Raises :class:`PatchPlanError` on invalid input.

    csaf_match's ``undecided`` state is never planned as "nothing to do": with no finding the driver and
    toolkit action is ``undecided`` (report, change nothing); with findings the fixable part is still
    upgraded and ``undecided``/``undecided_reasons`` say what remains open. A driver whose findings need a
    newer branch (``branch_change_required``) gets ``branch_change`` (report; only an opted-in migration moves
    it), unless an in-branch upgrade is still due. ``undecided_components`` lists every undecided component,
    including those the role does not patch (CUDA, Triton ...).
    """
    facts = _mapping(facts, "facts")
    match = _mapping(match_result, "csaf_match result")
    options = _mapping(options, "options")
    unknown = sorted(set(facts) - set(_FACT_KEYS)) + sorted(set(options) - set(_OPTION_KEYS))
    if unknown:
        raise PatchPlanError("unknown key(s): %s" % ", ".join(str(k) for k in unknown))
    gpu = _mapping(facts.get("aisec_gpu"), "aisec_gpu facts")
    components = _list(options.get("components", []), "patching_components")
    firmware_allow = [str(a) for a in _list(options.get("firmware_allow"), "patching_firmware_allow")]
    remote = options.get("fwupd_remote", "lvfs")
    if not isinstance(remote, str) or not remote:
        raise PatchPlanError("patching_fwupd_remote must be a non-empty string, got %r" % (remote,))
    selected, not_evaluated = select_components(gpu.get("components"), options.get("extra_components"))

    ctx = {
        "facts": gpu,
        "driver": _mapping(gpu.get("driver"), "aisec_gpu.driver"),
        "match": match,
        "summaries": _summaries(match),
        "findings": _list(match.get("findings"), "csaf_match findings"),
        "migration_match": _mapping(facts.get("migration_match"), "migration csaf_match result"),
        "components": components,
        "apt": facts.get("os_family") == "Debian",
        "is_container": facts.get("virtualization_type") in CONTAINER_TYPES,
        "target_branch": target_branch(options.get("driver_branch")),
        "migration": _bool(options.get("driver_branch_migration", False), "patching_driver_branch_migration"),
        "microcode_install": _bool(options.get("microcode_install", True), "patching_microcode_install"),
        "dpkg": parse_dpkg(facts.get("dpkg")),
        "madison": parse_madison(facts.get("madison")),
        "policy": facts.get("policy"),
        "cpuinfo": facts.get("cpuinfo"),
        "fwupdmgr": _text(facts.get("fwupdmgr")),
        "fwupd_updates": facts.get("fwupd_updates"),
        "fwupd_remote": remote,
        "firmware_allow": firmware_allow,
    }
    driver, queries = _driver(ctx)
    toolkit, toolkit_names = _toolkit(ctx)
    return {
        "plan": {
            "driver": driver,
            "container_toolkit": toolkit,
            "microcode": _microcode(ctx),
            "firmware": _firmware(ctx),
        },
        "target_branch": ctx["target_branch"],
        "is_container": ctx["is_container"],
        "apt": ctx["apt"],
        "components": selected,
        "not_evaluated": not_evaluated,
        "undecided_components": undecided_components(match),
        "driver_migrating": queries["migrating"],
        "madison_names": _unique(queries["madison_names"] + toolkit_names),
        "migration_components": queries["migration_components"],
    }

# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only probe of the aisec.gpu_host.patching role (runs on the target).

The role pipes this file to the target's Python (standard library only, Python >= 3.8) and passes its input
as JSON in the environment variable ``AISEC_PATCHING_PROBE``. It changes nothing. It prints one JSON object
with what the role's plan (``aisec.gpu_host.patch_plan``) reads, in the form the former one-command-per-task
probes printed it:

``dpkg``            ``dpkg-query -W -f '${db:Status-Abbrev}\\t${Package}\\t${Version}\\n' PATTERN...`` (apt only)
``cpuinfo``         the first ``vendor_id`` line of /proc/cpuinfo (apt and microcode only)
``fwupdmgr``        the path of fwupdmgr, '' when it is not installed (firmware only)
``reboot_marker``   whether the reboot marker (/run/reboot-required) exists
``apt_lists_stale`` whether the package lists are older than ``cache_valid_time`` (the rule of
                    ansible.builtin.apt: mtime of /var/lib/apt/periodic/update-success-stamp, else of
                    /var/lib/apt/lists); always false when ``cache_valid_time`` is 0
``madison_names``   the packages whose offered versions are asked (every installed package of ``dpkg`` except
                    the microcode ones, plus its name on the target driver branch when ``rename`` is given)
``madison``         ``apt-cache madison NAME...`` (apt only, when there are names)
``policy``          ``apt-cache policy PACKAGE...`` of ``policy_names`` (apt and microcode only)
``fwupd_updates``   ``fwupdmgr get-updates --json`` (firmware only, when fwupdmgr is installed)
``deferred``        the parts not read yet because a refresh must come first: ``apt`` (madison and policy,
                    the package lists are stale) and ``fwupd`` (get-updates, the fwupd metadata is refreshed)

``phase: early`` reads everything it can; the role then refreshes what ``deferred`` names and runs
``phase: late`` with ``parts: <deferred>`` and ``madison_names`` from the early result, which reads only
those parts. A command that fails (an exit status its former task did not accept) makes the probe print the
reason on stderr and exit 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

APT_UPDATE_SUCCESS_STAMP_PATH = "/var/lib/apt/periodic/update-success-stamp"
APT_LISTS_PATH = "/var/lib/apt/lists"
DPKG_FORMAT = "${db:Status-Abbrev}\t${Package}\t${Version}\n"
ENV = dict(os.environ, LC_ALL="C", LANG="C", LANGUAGE="")


class ProbeError(Exception):
    """A command failed; the message says which and why."""


def run(argv, ok_rcs=(0,)):
    """stdout of argv (C locale), or ProbeError when its exit status is not in ok_rcs."""
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, check=False,
                              universal_newlines=True)
    except OSError as exc:
        raise ProbeError("%s: %s" % (" ".join(argv[:3]), exc))
    if proc.returncode not in ok_rcs:
        raise ProbeError("%s exited with %d: %s" % (" ".join(argv[:3]), proc.returncode,
                                                    (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc.stdout


def cpu_vendor_line(path="/proc/cpuinfo"):
    """The first line that starts with vendor_id (as ``grep -m1 -E '^vendor_id'`` prints it), '' when none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("vendor_id"):
                    return line
    except OSError as exc:
        raise ProbeError("cannot read %s: %s" % (path, exc))
    return ""


def apt_lists_stale(valid_time, now=None):
    """ansible.builtin.apt's cache_valid_time rule: True when the lists are older than valid_time seconds."""
    if int(valid_time) <= 0:
        return False
    mtime = 0.0
    if os.path.exists(APT_UPDATE_SUCCESS_STAMP_PATH):
        mtime = os.stat(APT_UPDATE_SUCCESS_STAMP_PATH).st_mtime
    elif os.path.exists(APT_LISTS_PATH):
        mtime = os.stat(APT_LISTS_PATH).st_mtime
    return not mtime + int(valid_time) >= (time.time() if now is None else now)


def installed_names(dpkg_stdout):
    """Names of the installed packages (status ?i) in dpkg-query output, in order, without duplicates."""
    names = []
    for line in dpkg_stdout.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0][1:2] == "i" and fields[1] not in names:
            names.append(fields[1])
    return names


def madison_names(dpkg_stdout, exclude, rename):
    """Packages to ask apt-cache madison about: installed ones (less ``exclude``), and when ``rename`` is
    ``[old_major, new_major]`` (a driver branch migration) also their names on the new branch."""
    names = [n for n in installed_names(dpkg_stdout) if n not in exclude]
    if rename:
        old, new = str(rename[0]), str(rename[1])
        pattern = re.compile(r"(?<![0-9])" + re.escape(old) + r"(?![0-9])")
        names = names + [pattern.sub(new, n) for n in names]
    out = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


def read_offers(spec, names, out):
    """apt-cache madison/policy (part apt): after the package lists are current."""
    out["madison"] = run(["apt-cache", "madison"] + names) if names else ""
    out["policy"] = run(["apt-cache", "policy"] + list(spec["policy_names"])) if spec.get("policy_names") else ""


def read_fwupd_updates(out):
    out["fwupd_updates"] = run(
        ["fwupdmgr", "get-updates", "--json", "--no-unreported-check", "--no-metadata-check"], ok_rcs=(0, 2))


def probe(spec):
    """The probe result for the input ``spec`` (see the module docstring)."""
    apt = bool(spec.get("apt"))
    out = {"dpkg": "", "cpuinfo": "", "fwupdmgr": "", "reboot_marker": False, "apt_lists_stale": False,
           "madison_names": [], "madison": "", "policy": "", "fwupd_updates": "", "deferred": []}
    if spec.get("phase", "early") == "late":
        parts = spec.get("parts") or []
        del out["dpkg"], out["cpuinfo"], out["fwupdmgr"], out["reboot_marker"], out["apt_lists_stale"], out["deferred"]
        out["madison_names"] = list(spec.get("madison_names") or [])
        if "apt" in parts and apt:
            read_offers(spec, out["madison_names"], out)
        else:
            del out["madison"], out["policy"]
        if "fwupd" in parts:
            read_fwupd_updates(out)
        else:
            del out["fwupd_updates"]
        return out

    out["reboot_marker"] = os.path.exists(spec["reboot_marker"])
    if apt:
        out["dpkg"] = run(["dpkg-query", "-W", "-f=" + DPKG_FORMAT] + list(spec["dpkg_patterns"]),
                          ok_rcs=(0, 1))  # 1: a pattern matched nothing
        if spec.get("cpuinfo"):
            out["cpuinfo"] = cpu_vendor_line()
        out["madison_names"] = madison_names(out["dpkg"], spec.get("madison_exclude") or [], spec.get("rename"))
        out["apt_lists_stale"] = apt_lists_stale(spec.get("cache_valid_time") or 0)
        if out["apt_lists_stale"]:
            out["deferred"].append("apt")
        else:
            read_offers(spec, out["madison_names"], out)
    if spec.get("fwupd"):
        out["fwupdmgr"] = shutil.which("fwupdmgr") or ""
        if out["fwupdmgr"]:
            if spec.get("fwupd_refresh"):
                out["deferred"].append("fwupd")
            else:
                read_fwupd_updates(out)
    return out


def main():
    try:
        spec = json.loads(os.environ.get("AISEC_PATCHING_PROBE") or "{}")
        result = probe(spec)
    except (ProbeError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write("aisec.gpu_host.patching probe: %s\n" % exc)
        return 1
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

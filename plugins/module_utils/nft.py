# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nftables helpers of the firewall_info and nft_table modules (target side, standard library only).

A table is compared in nft's own canonical listing (``nft -s list table``: stateless, no counters or handles). The
desired ruleset is loaded into a throw-away network namespace (``unshare --net``) to obtain its listing, so the
comparison never touches the host's ruleset. The listing is split into its top-level objects (sets, maps, chains,
...), and each changed object is attributed to a control through a first-match list of name patterns and chain
hooks, so that a rule inserted by hand into the inbound chain is drift of the inbound control only.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shutil
import subprocess
import tempfile

OBJECT_RE = re.compile(r"^\t(set|map|chain|flowtable|counter|quota|limit|ct helper|ct timeout|ct expectation|"
                       r"secmark|synproxy) (\S+) \{$")
HOOK_RE = re.compile(r"\bhook (\w+)\b")
TABLE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")


class NftError(Exception):
    """nft could not be run, or refused a ruleset; the message is meant for the user."""


def nft_binary():
    for path in ("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"):
        if os.path.exists(path):
            return path
    return shutil.which("nft")


def _run(argv, stdin=None):
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(stdin.encode("utf-8") if stdin is not None else None)
    except OSError as exc:
        raise NftError("cannot run %s: %s" % (argv[0], exc))
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def check_table(family, name):
    if family not in FAMILIES:
        raise NftError("family %r must be one of %s" % (family, ", ".join(FAMILIES)))
    if not isinstance(name, str) or not TABLE_NAME_RE.fullmatch(name):
        raise NftError("table name %r must match %s" % (name, TABLE_NAME_RE.pattern))


def live_listing(family, name, nft=None):
    """Canonical listing of the live table, or ``None`` when it does not exist."""
    nft = nft or nft_binary()
    if not nft:
        raise NftError("nft is not installed")
    rc, out, _err = _run([nft, "-s", "list", "table", family, name])
    return out if rc == 0 else None


def with_appended(ruleset, append_paths):
    """The ruleset text followed by the content of each existing host file in ``append_paths``."""
    parts = [ruleset.rstrip("\n") + "\n"]
    present = []
    for path in append_paths or []:
        if os.path.isfile(path):
            with open(path, "r") as handle:
                parts.append(handle.read().rstrip("\n") + "\n")
            present.append(path)
    return "\n".join(parts), present


def scratch_listing(ruleset, family, name, nft=None):
    """Load ``ruleset`` into a throw-away network namespace and return the canonical listing of the table."""
    nft = nft or nft_binary()
    if not nft:
        raise NftError("nft is not installed")
    tmpdir = tempfile.mkdtemp(prefix="aisec-nft-")
    try:
        path = os.path.join(tmpdir, "desired.nft")
        with open(path, "w") as handle:
            handle.write(ruleset)
        rc, out, err = _run(["unshare", "--net", "--", "sh", "-c", '"$1" -f "$2" && "$1" -s list table "$3" "$4"',
                             "sh", nft, path, family, name])
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if rc != 0:
        raise NftError("nft refused the ruleset (loaded into a scratch network namespace): %s" % err.strip())
    return out


def objects(listing):
    """``{(kind, name): text}`` of the top-level objects of a canonical table listing, plus ``("table", "")``
    for anything outside them (flags, comments)."""
    result = {}
    if not listing:
        return result
    current = None
    rest = []
    for line in listing.splitlines():
        match = OBJECT_RE.match(line)
        if current is None and match:
            current = (match.group(1), match.group(2))
            result[current] = [line]
            continue
        if current is not None:
            result[current].append(line)
            if line == "\t}":
                current = None
            continue
        if line.strip():
            rest.append(line)
    out = dict((key, "\n".join(lines)) for key, lines in result.items())
    out[("table", "")] = "\n".join(rest)
    return out


def control_of(key, text, controls, default):
    """The control of one object: the first ``controls`` entry whose ``match`` fits.

    ``match`` is a name pattern (``inu_*``, fnmatch) or ``hook:<hook>`` (base chains of that hook, for chains added
    by hand under names the role does not know).
    """
    hook = HOOK_RE.search(text.splitlines()[1]) if key[0] == "chain" and "\n" in text else None
    for entry in controls:
        pattern = entry.get("match", "")
        if pattern.startswith("hook:"):
            if hook and hook.group(1) == pattern[5:]:
                return entry["control"]
        elif key[1] and fnmatch.fnmatchcase(key[1], pattern):
            return entry["control"]
    return default


def compare(live, desired, controls=(), default_control=None, family="inet", name=""):
    """Compare two canonical listings. Returns ``{"changed", "changed_objects", "changed_controls", "diff"}``."""
    if (live or "") == (desired or ""):
        return {"changed": False, "changed_objects": [], "changed_controls": [], "diff": ""}
    have, want = objects(live), objects(desired)
    changed = []
    found = []
    for key in sorted(set(have) | set(want)):
        if have.get(key) == want.get(key):
            continue
        label = ("%s %s" % key).strip()
        changed.append(label)
        control = control_of(key, want.get(key) or have.get(key) or "", controls, default_control)
        if control and control not in found:
            found.append(control)
    diff = "".join(difflib.unified_diff(
        (live or "").splitlines(True), (desired or "").splitlines(True),
        "live: %s %s" % (family, name) + ("" if live is not None else " (absent)"), "desired: %s %s" % (family, name)))
    return {"changed": True, "changed_objects": changed, "changed_controls": sorted(found), "diff": diff}


def set_elements(listing, name):
    """The elements of set ``name`` in a canonical table listing (``[]`` when the set is empty or missing)."""
    text = objects(listing).get(("set", name))
    if not text or "elements = {" not in text:
        return []
    body = text.split("elements = {", 1)[1].split("}", 1)[0]
    return [item.strip() for item in body.replace("\n", " ").split(",") if item.strip()]


def all_controls(controls, default_control=None):
    out = []
    for entry in list(controls) + ([{"control": default_control}] if default_control else []):
        if entry.get("control") and entry["control"] not in out:
            out.append(entry["control"])
    return sorted(out)


def restorable(family, name, listing):
    """An nft script that restores the table exactly as ``listing`` shows it (or removes it when ``None``)."""
    head = "table %s %s {}\ndelete table %s %s\n" % (family, name, family, name)
    if listing is None:
        return "# table %s %s was absent\n%s" % (family, name, head)
    return head + listing.rstrip("\n") + "\n"


def check_script(path, nft=None):
    nft = nft or nft_binary()
    rc, _out, err = _run([nft, "-c", "-f", path])
    if rc != 0:
        raise NftError("nft -c refused %s: %s" % (path, err.strip()))


def load(path, nft=None):
    """Load an nft script atomically (all or nothing)."""
    nft = nft or nft_binary()
    rc, _out, err = _run([nft, "-f", path])
    if rc != 0:
        raise NftError("nft -f %s failed (nothing was changed: nft loads a file as one transaction): %s"
                       % (path, err.strip()))

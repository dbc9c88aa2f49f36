# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers of the role plans (controller side, pure functions; docs/dev/CONTRIBUTING.md "How a role is built").

Every role turns its variables into a *desired state* (``<role>_plan.desired()``: validated, normalised, one error
message per bad value) and compares it with what its ``<role>_info`` module read on the host
(``<role>_plan.plan()``). This module holds what every plan needs:

* strict full-string validators for values that reach configuration files or scripts (``re.fullmatch``: no
  trailing-newline gap, no control characters);
* ``files_drift()``: which managed files and directories differ from their specification (content digest of the
  text rendered on the controller, owner, group, mode), so that the role calls ``ansible.builtin.template`` /
  ``copy`` / ``file`` only for those.
"""

from __future__ import annotations

import hashlib
import re

NAME_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Absolute path of plain characters: no spaces, quotes, shell or config metacharacters, no "." or ".." parts.
ABS_PATH_RE = re.compile(r"(/[A-Za-z0-9_+@][A-Za-z0-9._+@-]*)+")
FILE_NAME_RE = re.compile(r"[A-Za-z0-9_+@][A-Za-z0-9._+@-]{0,127}")
UNIT_RE = re.compile(r"[A-Za-z0-9_@.:-]{1,240}\.service")
SYSLOG_PRIORITY_RE = re.compile(
    r"(auth|authpriv|cron|daemon|kern|local[0-7]|syslog|user)\."
    r"(emerg|alert|crit|err|warning|notice|info|debug)")
CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")


def is_str(value):
    return isinstance(value, str)


def matches(pattern, value):
    """``value`` is a string that ``pattern`` matches as a whole (``re.fullmatch``)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def abs_path_ok(value):
    return matches(ABS_PATH_RE, value) and "/./" not in value and "/../" not in value and not value.endswith(
        ("/.", "/.."))


def show(value, limit=80):
    """A value as it can be quoted in an error message (control characters made visible, long values cut)."""
    text = repr(value) if not isinstance(value, str) else repr(value)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."


def int_in(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mode(value):
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def file_drift(spec, state, digest=None):
    """Why the managed path ``spec`` differs from ``state`` (an entry of ``<role>_info``'s ``files``), or ``[]``.

    ``spec``: ``path``, ``state`` (``file``, ``directory``, ``absent``; default ``file``), ``owner``, ``group``,
    ``mode`` and, for files, ``force`` (``False``: only create a missing file, never compare the content).
    ``digest``: sha256 of the desired content (files). A state that could not be read counts as drift: the
    standard module then decides (fail closed).
    """
    want = spec.get("state", "file")
    if not state or state.get("exists") is None:
        return ["state unknown (%s)" % ((state or {}).get("error") or "not read")]
    if want == "absent":
        return ["exists, should be absent"] if state["exists"] else []
    if not state["exists"]:
        return ["missing"]
    why = []
    kind = "directory" if want == "directory" else "file"
    if state.get("type") != kind:
        return ["is a %s, should be a %s" % (state.get("type"), kind)]
    if kind == "file" and spec.get("force", True) is not False:
        if state.get("sha256") is None:
            why.append("content unreadable (%s)" % state.get("error", "?"))
        elif digest is not None and state["sha256"] != digest:
            why.append("content differs")
    for key in ("owner", "group"):
        if spec.get(key) is not None and state.get(key) != spec[key]:
            why.append("%s %s, should be %s" % (key, state.get(key), spec[key]))
    if spec.get("mode") is not None and _mode(state.get("mode")) != _mode(spec["mode"]):
        why.append("mode %s, should be %s" % (state.get("mode"), spec["mode"]))
    return why


def files_drift(specs, states, rendered=None):
    """``{path: [reasons]}`` of the wanted specs that drift. ``rendered``: ``{src: text}`` of the templates rendered
    on the controller; a spec has ``src`` (a key of ``rendered``) or ``content`` (the text itself)."""
    rendered = rendered or {}
    out = {}
    for spec in specs:
        if not spec.get("wanted", True):
            continue
        digest = None
        if spec.get("state", "file") == "file":
            if "content" in spec and spec["content"] is not None:
                digest = sha256_text(spec["content"])
            elif spec.get("src") in rendered:
                digest = sha256_text(rendered[spec["src"]])
            elif spec.get("force", True) is not False:
                out[spec["path"]] = ["desired content not rendered"]
                continue
        why = file_drift(spec, states.get(spec["path"]), digest)
        if why:
            out[spec["path"]] = why
    return out


def controls_of(paths, specs):
    """The sorted control ids of the specs whose path is in ``paths``."""
    found = set()
    for spec in specs:
        if spec["path"] in paths and spec.get("control"):
            found.add(spec["control"])
    return sorted(found)

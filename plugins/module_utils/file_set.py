# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic behind ``aisec.gpu_host.file_set`` (action plugin on the controller, module on the target).

Nothing here touches the file system or runs commands: the action plugin uses
:func:`normalize_entries` to check the task arguments, the module uses every function to turn a
snapshot of the target (``lstat`` results, content hashes, directory listings) into the list of
changes, the diff and the result. Each function is unit-tested.

This file is shipped to the TARGET host: only the Python standard library is used and the code
keeps to Python 3.6 syntax.
"""

import hashlib
import os
import re
import shlex
import stat

__all__ = [
    "CONTROL_RE",
    "ENTRY_KEYS",
    "MAX_DIFF_BYTES",
    "STATES",
    "attribute_changes",
    "content_diff",
    "entry_diffs",
    "exclusive_removals",
    "file_kind",
    "format_mode",
    "normalize_entries",
    "parent_created_earlier",
    "plan_entry",
    "sha256_bytes",
    "summarize",
    "validate_argv",
]

#: Control ids of docs/controls.md.
CONTROL_RE = re.compile(r"^AISEC-[A-Z]+-[0-9]{2}$")
#: An octal mode string: 644, 0644, 2750, 01777.
MODE_RE = re.compile(r"^0?[0-7]{3,4}$")
STATES = ("file", "directory", "absent")
ENTRY_KEYS = ("path", "state", "src", "content", "vars", "owner", "group", "mode", "validate", "force",
              "exclusive", "controls")
#: Content diffs are shown for text up to this size (bytes, before and after).
MAX_DIFF_BYTES = 128 * 1024

_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


def _bool(value, name, errors, prefix):
    """Booleans as Ansible reads them (true/yes/on/1 ...); anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    errors.append("%s%s must be a boolean, got %r" % (prefix, name, value))
    return None


def format_mode(mode):
    """``0o644`` -> ``'0644'`` (four digits, as ls/stat and Ansible's diffs show modes)."""
    return "%04o" % mode


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def normalize_entries(files, allow_src=True):
    """Check and normalise the ``files`` list of the task.

    Returns ``(entries, errors)``. ``errors`` lists every problem found (each names the entry as
    ``files[i]`` and its path); ``entries`` is only meaningful when there is none. A key whose value
    is ``None`` counts as not given (the module's argument spec fills missing sub-options with
    ``None``). Each normalised entry has every key of :data:`ENTRY_KEYS` plus ``index`` and
    ``mode`` as an int (``mode_text`` keeps the four-digit string).

    ``allow_src=False`` (the module) rejects ``src``: the action plugin renders templates and passes
    ``content`` only.
    """
    errors = []
    entries = []
    if not isinstance(files, list):
        return [], ["files must be a list of entries, got %s" % type(files).__name__]
    if not files:
        return [], ["files must list at least one entry"]
    seen = {}
    for index, raw in enumerate(files):
        where = "files[%d]" % index
        if not isinstance(raw, dict):
            errors.append("%s must be a dictionary, got %s" % (where, type(raw).__name__))
            continue
        given = dict((k, v) for k, v in raw.items() if v is not None)
        path = given.get("path")
        if path is None:
            errors.append("%s: path is required" % where)
            prefix = where + ": "
        elif not isinstance(path, str) or not path:
            errors.append("%s: path must be a non-empty string, got %r" % (where, path))
            prefix = where + ": "
            path = None
        else:
            prefix = "%s (%s): " % (where, path)
            if not os.path.isabs(path):
                errors.append("%spath must be absolute" % prefix)
                path = None
            else:
                norm = os.path.normpath(path)
                if norm.startswith("//"):
                    norm = "/" + norm.lstrip("/")
                if norm == "/":
                    errors.append("%spath must not be the root directory" % prefix)
                elif norm in seen:
                    errors.append("%spath is listed twice (also files[%d])" % (prefix, seen[norm]))
                else:
                    seen[norm] = index
                path = norm
        unknown = sorted(str(k) for k in raw if k not in ENTRY_KEYS)
        if unknown:
            errors.append("%sunknown key(s) %s; allowed: %s" % (prefix, ", ".join(unknown), ", ".join(ENTRY_KEYS)))
        if "src" in given and not allow_src:
            errors.append("%ssrc is rendered by the action plugin; the module takes content only" % prefix)

        state = given.get("state", "file")
        if state not in STATES:
            errors.append("%sstate must be one of %s, got %r" % (prefix, ", ".join(STATES), state))
            state = None
        entry = dict((k, None) for k in ENTRY_KEYS)
        entry.update(index=index, path=path, state=state, force=True, exclusive=False, controls=[],
                     mode_text=None)

        # -- content / src -------------------------------------------------------------------------
        has_src = "src" in given
        has_content = "content" in given
        if state == "file":
            if has_src and has_content:
                errors.append("%sgive either src or content, not both" % prefix)
            elif not has_src and not has_content:
                errors.append("%sstate=file needs src (a template) or content" % prefix)
            if has_src:
                if not isinstance(given["src"], str) or not given["src"]:
                    errors.append("%ssrc must be a non-empty string (a template file name)" % prefix)
                else:
                    entry["src"] = given["src"]
            if has_content:
                if not isinstance(given["content"], str):
                    errors.append("%scontent must be a string, got %s (quote it or use to_json/to_nice_yaml)"
                                  % (prefix, type(given["content"]).__name__))
                else:
                    entry["content"] = given["content"]
        elif state is not None:
            for key in ("src", "content", "validate"):
                if key in given:
                    errors.append("%s%s is only valid with state=file" % (prefix, key))
        if "vars" in given:
            if not isinstance(given["vars"], dict):
                errors.append("%svars must be a dictionary, got %s" % (prefix, type(given["vars"]).__name__))
            elif not has_src:
                errors.append("%svars is only valid with src (template variables)" % prefix)
            else:
                entry["vars"] = given["vars"]

        # -- attributes -----------------------------------------------------------------------------
        for key in ("owner", "group"):
            if key in given:
                value = given[key]
                if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
                    errors.append("%s%s must be a user/group name or number, got %r" % (prefix, key, value))
                elif state == "absent":
                    errors.append("%s%s has no meaning with state=absent" % (prefix, key))
                else:
                    entry[key] = str(value)
        if "mode" in given:
            mode = given["mode"]
            if state == "absent":
                errors.append("%smode has no meaning with state=absent" % prefix)
            elif not isinstance(mode, str):
                errors.append("%smode must be a quoted octal string such as \"0644\", got %r (YAML reads an "
                              "unquoted 0644 as the number 420)" % (prefix, mode))
            elif not MODE_RE.match(mode):
                errors.append("%smode must be an octal string such as \"0644\" or \"2750\", got %r" % (prefix, mode))
            else:
                entry["mode"] = int(mode, 8)
                entry["mode_text"] = format_mode(entry["mode"])
        elif state in ("file", "directory"):
            errors.append("%smode is required for state=%s" % (prefix, state))

        # -- options ------------------------------------------------------------------------------
        if "validate" in given and state == "file":
            validate = given["validate"]
            if not isinstance(validate, str) or "%s" not in validate:
                errors.append("%svalidate must be a command containing %%s (the candidate file), got %r"
                              % (prefix, validate))
            else:
                try:
                    validate_argv(validate, "/x")
                except ValueError as exc:
                    errors.append("%svalidate: %s" % (prefix, exc))
                else:
                    entry["validate"] = validate
        if "force" in given:
            force = _bool(given["force"], "force", errors, prefix)
            if force is False and state != "file":
                errors.append("%sforce=false is only valid with state=file" % prefix)
            elif force is not None:
                entry["force"] = force
        if "exclusive" in given:
            exclusive = _bool(given["exclusive"], "exclusive", errors, prefix)
            if exclusive and state != "directory":
                errors.append("%sexclusive=true is only valid with state=directory" % prefix)
            elif exclusive is not None:
                entry["exclusive"] = exclusive
        if "controls" in given:
            controls = given["controls"]
            if isinstance(controls, str):
                controls = [controls]
            if not isinstance(controls, list):
                errors.append("%scontrols must be a list of control ids, got %r" % (prefix, controls))
            else:
                bad = [c for c in controls if not isinstance(c, str) or not CONTROL_RE.match(c)]
                if bad:
                    errors.append("%scontrols: %s not a control id (AISEC-<AREA>-<NN>)"
                                  % (prefix, ", ".join(repr(b) for b in bad)))
                else:
                    entry["controls"] = sorted(set(controls))
        entries.append(entry)
    return entries, errors


def validate_argv(validate, candidate):
    """The argument vector of a ``validate`` command: split like a shell (no shell runs), then ``%s``
    replaced by ``candidate`` in every argument (so a path with spaces stays one argument)."""
    try:
        argv = shlex.split(validate)
    except ValueError as exc:
        raise ValueError("cannot split %r: %s" % (validate, exc))
    if not argv:
        raise ValueError("empty command")
    if not any("%s" in a for a in argv):
        raise ValueError("%r has no %%s" % validate)
    return [a.replace("%s", candidate) for a in argv]


def parent_created_earlier(entries, index):
    """True when an entry before ``entries[index]`` is a directory that is, or lies below, its parent
    (directory entries create their missing parents)."""
    parent = os.path.dirname(entries[index]["path"])
    for other in entries[:index]:
        if other["state"] != "directory":
            continue
        if other["path"] == parent or other["path"].startswith(parent.rstrip("/") + "/"):
            return True
    return False


def file_kind(st_mode):
    """'file', 'directory', 'link' or 'other' for an ``lstat`` mode."""
    if stat.S_ISLNK(st_mode):
        return "link"
    if stat.S_ISREG(st_mode):
        return "file"
    if stat.S_ISDIR(st_mode):
        return "directory"
    return "other"


def attribute_changes(current, uid, gid, mode):
    """['owner', 'group', 'mode'] that differ between ``current`` (uid/gid/mode) and the wanted values;
    ``None`` means not enforced."""
    out = []
    if uid is not None and current["uid"] != uid:
        out.append("owner")
    if gid is not None and current["gid"] != gid:
        out.append("group")
    if mode is not None and current["mode"] != mode:
        out.append("mode")
    return out


def plan_entry(entry, current, uid=None, gid=None, content_sha256=None):
    """Changes needed for one entry: ``(changes, error)``.

    ``current`` describes the path before the call: ``None`` when it does not exist, otherwise a dict
    with ``kind`` (:func:`file_kind`; for directory entries the kind after following a symbolic link),
    ``uid``, ``gid``, ``mode`` (permission bits) and, for regular files whose content is compared,
    ``sha256``. ``uid``/``gid`` are the wanted ids (``None``: not enforced); ``content_sha256`` the
    hash of the wanted content.

    Change names: ``created``, ``replaced`` (a symbolic link replaced by the file), ``content``,
    ``owner``, ``group``, ``mode``, ``removed``. ``error`` is a message when the path has a type the
    entry cannot manage (nothing is changed then).
    """
    state = entry["state"]
    path = entry["path"]
    if state == "absent":
        return (["removed"] if current is not None else []), None
    if current is None:
        return ["created"], None
    kind = current["kind"]
    if state == "directory":
        if kind != "directory":
            return [], "%s exists and is not a directory (%s)" % (path, kind)
        return attribute_changes(current, uid, gid, entry["mode"]), None
    # state == file
    if kind == "link":
        return ["replaced"], None
    if kind != "file":
        return [], "%s exists and is not a regular file (%s)" % (path, kind)
    changes = []
    if entry["force"] and current.get("sha256") != content_sha256:
        changes.append("content")
    return changes + attribute_changes(current, uid, gid, entry["mode"]), None


def exclusive_removals(directory, listing, listed_paths):
    """What an exclusive directory loses: ``(path, kind)`` of the regular files and symbolic links of
    ``listing`` (``(name, kind)`` pairs of the directory, not recursive) whose path is not in
    ``listed_paths``. Sub-directories and special files are left alone. Sorted by path."""
    keep = set(listed_paths)
    out = []
    for name, kind in listing:
        if kind not in ("file", "link"):
            continue
        path = os.path.join(directory, name)
        if path not in keep:
            out.append((path, kind))
    return sorted(out)


def _is_text(data):
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def content_diff(path, before, after, before_sha256=None, after_sha256=None):
    """A template-style content diff: ``{before_header, after_header, before, after}``.

    ``before``/``after`` are bytes (``before=None``: the file does not exist yet, or its content was
    not read because it is too large). Binary content or content over :data:`MAX_DIFF_BYTES` is not
    shown: both sides then carry a one-line placeholder with the sha256 and the headers say why.
    """
    too_big = before is None and before_sha256 is not None
    for data in (before, after):
        if data is not None and (len(data) > MAX_DIFF_BYTES or not _is_text(data)):
            too_big = True
    if too_big:
        note = " (content not shown: binary or larger than %d KiB)" % (MAX_DIFF_BYTES // 1024)
        b_sha = before_sha256 or (sha256_bytes(before) if before is not None else None)
        a_sha = after_sha256 or sha256_bytes(after)
        return {
            "before_header": path + note,
            "after_header": path + note,
            "before": ("[sha256 %s]\n" % b_sha) if b_sha else "",
            "after": "[sha256 %s]\n" % a_sha,
        }
    return {
        "before_header": path,
        "after_header": path,
        "before": before.decode("utf-8") if before is not None else "",
        "after": after.decode("utf-8"),
    }


def entry_diffs(entry, current, changes, names, before_content=None, after_content=None, purged=None,
                before_sha256=None):
    """The diff dicts of one entry, in the shape of the file/template modules.

    ``names`` maps ``current``'s and the wanted owner/group to names: ``{'before_owner', 'before_group',
    'after_owner', 'after_group'}``. Content changes give a :func:`content_diff`; attribute and state
    changes give ``{before: {path, state, owner, group, mode}, after: {...}}`` with only the keys that
    matter; each ``(path, kind)`` in ``purged`` (an exclusive directory) gives ``{before: {path, state}, after: {path,
    state: absent}}``.
    """
    path = entry["path"]
    out = []
    if not changes and not purged:
        return out
    if "removed" in changes:
        out.append({"before": {"path": path, "state": current["kind"]}, "after": {"path": path, "state": "absent"}})
        return out
    if entry["state"] == "file" and ({"created", "replaced", "content"} & set(changes)):
        out.append(content_diff(path, before_content, after_content, before_sha256=before_sha256))
    before = {"path": path}
    after = {"path": path}
    if "created" in changes or "replaced" in changes:
        before["state"] = current["kind"] if current else "absent"
        after["state"] = entry["state"]
        if entry.get("owner") is not None:
            after["owner"] = names.get("after_owner")
        if entry.get("group") is not None:
            after["group"] = names.get("after_group")
        after["mode"] = entry["mode_text"]
    else:
        if "owner" in changes:
            before["owner"] = names.get("before_owner")
            after["owner"] = names.get("after_owner")
        if "group" in changes:
            before["group"] = names.get("before_group")
            after["group"] = names.get("after_group")
        if "mode" in changes:
            before["mode"] = format_mode(current["mode"])
            after["mode"] = entry["mode_text"]
    if len(after) > 1:
        out.append({"before": before, "after": after})
    for gone, kind in purged or []:
        out.append({"before": {"path": gone, "state": kind}, "after": {"path": gone, "state": "absent"}})
    return out


def summarize(entries, results):
    """``(changed, changed_controls)`` from the entries and their per-entry results (same order)."""
    changed = False
    controls = set()
    for entry, result in zip(entries, results):
        if result["changed"]:
            changed = True
            controls.update(entry["controls"])
    return changed, sorted(controls)

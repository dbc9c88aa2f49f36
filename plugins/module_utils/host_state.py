# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only readers of host state shared by the ``<role>_info`` modules (target side, standard library only).

Every role of aisec.gpu_host reads the host once per run with its own documented ``<role>_info`` module
(``plugins/modules/``); the sections every role needs are implemented here and documented once in the
``aisec.gpu_host.host_state`` documentation fragment:

* ``files``: ``stat`` of each path plus the sha256 of regular files (the plan compares it with the digest of the
  content rendered on the controller, so a converged host needs no ``template`` round trip);
* ``contents``: the text of small files the plan parses (PAM stacks, ``daemon.json``), ``None`` when missing;
* ``directories``: the names in each directory, ``None`` when missing;
* ``packages``: installed version of each package (dpkg, or rpm), ``None`` when not installed;
* ``services``: ``LoadState``/``ActiveState``/``UnitFileState`` of each systemd unit.

Nothing here changes the host. Functions never raise for an unreadable path: they return what could be read and
say what could not (``error`` keys), so that a plan can report it as undecided instead of guessing.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import subprocess

MAX_CONTENT = 256 * 1024
CHUNK = 1024 * 1024

SPEC = dict(
    files=dict(type="list", elements="path", default=[]),
    contents=dict(type="list", elements="path", default=[]),
    directories=dict(type="list", elements="path", default=[]),
    packages=dict(type="list", elements="str", default=[]),
    services=dict(type="list", elements="str", default=[]),
)


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except (KeyError, OverflowError):
        return str(ident)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_state(path):
    """``stat`` of ``path`` (not following a final symlink) and, for a regular file, its sha256.

    Returns ``{"exists": False}`` for a missing path, else ``exists``, ``type`` (file, directory, link, other),
    ``mode`` (four octal digits, e.g. ``"0640"``), ``owner``, ``group``, ``uid``, ``gid``, ``size``, ``sha256``
    (regular files only) and ``target`` (links only). An unreadable file gets ``error`` instead of ``sha256``.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    except OSError as exc:
        return {"exists": None, "error": str(exc)}
    if stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISLNK(st.st_mode):
        kind = "link"
    else:
        kind = "other"
    result = {
        "exists": True,
        "type": kind,
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
        "size": st.st_size,
    }
    if kind == "file":
        try:
            result["sha256"] = sha256_file(path)
        except OSError as exc:
            result["error"] = str(exc)
    elif kind == "link":
        try:
            result["target"] = os.readlink(path)
        except OSError as exc:
            result["error"] = str(exc)
    return result


def read_text(path, limit=MAX_CONTENT):
    """The text of a small file, ``None`` when it is missing, unreadable or larger than ``limit`` bytes."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("utf-8", "replace")


def list_dir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def run(argv, env=None):
    """``(rc, stdout, stderr)`` of a command without a shell; rc 127 when it cannot be started."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate()
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def packages(names):
    """Installed version of each package name (``None`` when not installed), from dpkg or, without dpkg, rpm."""
    result = dict((name, None) for name in names)
    if not names:
        return result
    rc, out, _err = run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n"] + list(names))
    if rc == 127:
        rc, out, _err = run(["rpm", "-q", "--qf", "%{NAME}\tii\t%{VERSION}-%{RELEASE}\n"] + list(names))
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0] in result and fields[1][1:2] == "i":
            result[fields[0]] = fields[2]
    return result


def services(names):
    """``{unit: {"load": ..., "active": ..., "enabled": ...}}`` from ``systemctl show`` (one call for all units).

    Without systemd every value is ``"unknown"``.
    """
    result = dict((name, {"load": "unknown", "active": "unknown", "enabled": "unknown"}) for name in names)
    if not names:
        return result
    rc, out, _err = run(["systemctl", "show", "--no-pager", "-p", "Id,LoadState,ActiveState,UnitFileState", "--"]
                        + list(names))
    if rc != 0 and not out:
        return result
    # One block per unit, in the order asked, separated by empty lines.
    blocks = out.strip("\n").split("\n\n")
    for name, block in zip(names, blocks):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        result[name] = {
            "load": values.get("LoadState") or "unknown",
            "active": values.get("ActiveState") or "unknown",
            "enabled": values.get("UnitFileState") or ("not-found" if values.get("LoadState") == "not-found"
                                                       else "unknown"),
        }
    return result


def read(params):
    """The shared sections of every ``<role>_info`` module (see the module docstring)."""
    return {
        "files": dict((path, file_state(path)) for path in params.get("files") or []),
        "contents": dict((path, read_text(path)) for path in params.get("contents") or []),
        "directories": dict((path, list_dir(path)) for path in params.get("directories") or []),
        "packages": packages(params.get("packages") or []),
        "services": services(params.get("services") or []),
    }


def group_db():
    return dict((g.gr_name, {"gid": g.gr_gid, "members": list(g.gr_mem)}) for g in grp.getgrall())


def passwd_db():
    return dict(
        (p.pw_name, {"uid": p.pw_uid, "gid": p.pw_gid, "gecos": p.pw_gecos, "home": p.pw_dir, "shell": p.pw_shell})
        for p in pwd.getpwall())


def shadow(names, path="/etc/shadow"):
    """For the named users only: whether the password is locked, the account expiry day and the sha256 of the
    password field (never the field itself). ``None`` for a user without a shadow entry."""
    result = dict((name, None) for name in names)
    wanted = set(names)
    if not wanted:
        return result
    try:
        with open(path, "r") as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if len(fields) < 8 or fields[0] not in wanted:
                    continue
                field = fields[1]
                result[fields[0]] = {
                    "locked": field.startswith("!") or field.startswith("*"),
                    "expire": int(fields[7]) if fields[7].isdigit() else None,
                    "password_sha256": hashlib.sha256(field.encode("utf-8")).hexdigest(),
                }
    except OSError:
        pass
    return result


def ssh_connection_from_ancestors(proc="/proc", pid="self", max_depth=32):
    """``SSH_CONNECTION`` of the nearest ancestor process that has it (privilege escalation resets the
    environment, but the SSH session that started this process still carries it; root can read it)."""
    for _depth in range(max_depth):
        try:
            with open(os.path.join(proc, str(pid), "environ"), "rb") as handle:
                for item in handle.read().split(b"\0"):
                    if item.startswith(b"SSH_CONNECTION="):
                        return item.split(b"=", 1)[1].decode("ascii", "replace")
            with open(os.path.join(proc, str(pid), "stat"), "rb") as handle:
                stat_line = handle.read().decode("ascii", "replace")
            ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return ""
        if ppid <= 1:
            return ""
        pid = ppid
    return ""


def ssh_client(environ=None, proc="/proc"):
    """``{"address", "port"}`` of the SSH client as this host sees it (client address and the server port of
    ``SSH_CONNECTION``), IPv4-mapped IPv6 addresses as IPv4; ``None`` values without an SSH session."""
    environ = os.environ if environ is None else environ
    words = (environ.get("SSH_CONNECTION") or ssh_connection_from_ancestors(proc)).split()
    if len(words) != 4:
        return {"address": None, "port": None}
    address = words[0].split("%", 1)[0]
    if address.lower().startswith("::ffff:") and address.count(".") == 3:
        address = address[7:]
    try:
        port = int(words[3])
    except ValueError:
        port = None
    return {"address": address, "port": port}

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Readers of the access_info module (target side, standard library only; also imported by the controller-side
plan for ``totp_digest``, so that both sides compute the TOTP file digest with the same code).

Nothing here changes the host, and no secret leaves it: TOTP files and password fields are returned as digests.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import socket
import stat
import time

from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state

PAM_MODULE_GLOBS = (
    "/lib*/security/pam_*.so",
    "/lib/*/security/pam_*.so",
    "/usr/lib*/security/pam_*.so",
    "/usr/lib/*/security/pam_*.so",
)
# sudo's @includedir skips names that end in "~" or contain a ".".
SUDO_SKIPPED_RE = re.compile(r".*(~|\..*)$")
MAX_DOTFILES = 200


def pam_modules():
    found = set()
    for pattern in PAM_MODULE_GLOBS:
        for path in glob.glob(pattern):
            found.add(os.path.basename(path))
    return sorted(found)


def totp_digest(text):
    """sha256 of a pam_google_authenticator secret file without the state the module appends to it.

    The module rewrites the RATE_LIMIT line with timestamps and the DISALLOW_REUSE line with used codes; only
    the words the role writes are kept, blank lines dropped, the lines sorted."""
    if text is None:
        return None
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        words = line.split()
        if line.startswith('" RATE_LIMIT'):
            line = " ".join(words[:4])
        elif line.startswith('" DISALLOW_REUSE'):
            line = " ".join(words[:2])
        lines.append(line)
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def home_state(name):
    """The home directory of ``name``: path, existence, owner, mode, and the group/world-writable dot-files in it
    (CIS: homes 0750 or stricter, dot-files not writable by group or others)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    home = entry.pw_dir
    result = {"path": home, "exists": False, "mode": None, "owner_uid": None, "writable_dotfiles": []}
    try:
        st = os.lstat(home)
    except OSError:
        return result
    if not stat.S_ISDIR(st.st_mode):
        result["exists"] = None
        return result
    result.update(exists=True, mode="%04o" % stat.S_IMODE(st.st_mode), owner_uid=st.st_uid)
    bad = []
    try:
        names = sorted(os.listdir(home))
    except OSError:
        names = []
    for entry_name in names[:5000]:
        if not entry_name.startswith(".") or entry_name in (".", ".."):
            continue
        try:
            est = os.lstat(os.path.join(home, entry_name))
        except OSError:
            continue
        if stat.S_ISLNK(est.st_mode):
            continue
        if est.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            bad.append({"name": entry_name, "mode": "%04o" % stat.S_IMODE(est.st_mode)})
        if len(bad) >= MAX_DOTFILES:
            break
    result["writable_dotfiles"] = bad
    return result


def sudoers_dropins(directory, limit=host_state.MAX_CONTENT):
    """The files of ``directory`` that sudo reads (``@includedir`` rules): per name, ``sha256``, whether it holds
    any rule (a line that is neither blank nor a comment; ``#include``/``@include`` count as rules) and the first
    such lines (at most 5, for the report). ``None`` when the directory is missing."""
    names = host_state.list_dir(directory)
    if names is None:
        return None
    result = {}
    for name in names:
        path = os.path.join(directory, name)
        if SUDO_SKIPPED_RE.fullmatch(name) or not os.path.isfile(path):
            continue
        text = host_state.read_text(path, limit)
        if text is None:
            result[name] = {"sha256": None, "rules": None, "lines": [], "error": "unreadable or too large"}
            continue
        rules = [line.strip() for line in text.splitlines()
                 if line.strip() and (not line.strip().startswith("#")
                                      or line.strip().startswith(("#include", "#includedir")))]
        result[name] = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "rules": bool(rules),
                        "lines": [line[:200] for line in rules[:5]]}
    return result


def processes_of(names, proc="/proc"):
    """Per user name: the PIDs running with its UID or its login UID (``/proc/PID/loginuid``: processes started
    through sudo in its sessions keep it)."""
    uids = {}
    for name in names:
        try:
            uids[pwd.getpwnam(name).pw_uid] = name
        except KeyError:
            continue
    result = dict((name, []) for name in names)
    if not uids:
        return result
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            uid = os.stat(os.path.join(proc, pid)).st_uid
            with open(os.path.join(proc, pid, "loginuid")) as handle:
                login = int(handle.read().strip() or -1)
        except (OSError, ValueError):
            continue
        for candidate in (uid, login):
            if candidate in uids:
                result[uids[candidate]].append(int(pid))
                break
    return result


def sshd_effective(users, sshd="/usr/sbin/sshd", addr="127.0.0.1"):
    """``sshd -T`` for each user: ``{user: {"lines": [...], "error": None}}``."""
    result = {}
    for user in users:
        rc, out, err = host_state.run([sshd, "-T", "-C", "user=%s,host=localhost,addr=%s" % (user, addr)])
        if rc == 0:
            result[user] = {"lines": out.splitlines(), "error": None}
        else:
            result[user] = {"lines": None, "error": (err or out).strip() or "sshd -T exited with %d" % rc}
    return result


def sudoers_check(visudo="/usr/sbin/visudo"):
    rc, out, err = host_state.run([visudo, "-c", "-q"])
    return {"rc": rc, "output": (out + err).strip()}


def listen_address(sshd_lines):
    """``(host, port)`` sshd accepts connections on, from ``sshd -T``'s listenaddress lines (IPv4 first)."""
    found = []
    for line in sshd_lines or []:
        key, _sep, value = line.partition(" ")
        if key != "listenaddress" or ":" not in value:
            continue
        host, _sep, port = value.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port)
        except ValueError:
            continue
        found.append((":" in host, {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port))
    if not found:
        return "127.0.0.1", 22
    found.sort(key=lambda entry: entry[0])
    return found[0][1], found[0][2]


def ssh_banner(host, port, timeout):
    """The OpenSSH banner of a NEW TCP connection to sshd within ``timeout`` seconds: ``(banner, error)``."""
    deadline = time.time() + timeout
    error = "no attempt"
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=5)
            try:
                conn.settimeout(5)
                data = conn.recv(256).decode("utf-8", "replace")
            finally:
                conn.close()
            if "OpenSSH" in data:
                return data.strip(), None
            error = "unexpected banner %r" % data[:80]
        except (OSError, socket.error) as exc:
            error = str(exc)
        if time.time() >= deadline:
            return None, error
        time.sleep(0.5)

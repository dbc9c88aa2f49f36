# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The safe-apply guard of aisec.gpu_host (target side, standard library only).

Every change that can cut remote access (firewall ruleset, sshd, PAM, sudo) runs between ``arm`` and ``confirm``:

1. ``arm(name, timeout, paths, commands)`` saves the listed paths (files or whole directories, with owner, mode
   and the fact that a path did not exist) in ``/run/aisec-<name>/`` (tmpfs, root only) and starts a transient
   systemd timer (``aisec-<name>-rollback.timer``) that restores them after ``timeout`` seconds and then runs the
   restore commands
   (e.g. ``nft -f <saved table>`` or ``systemctl reload ssh``);
2. the role changes the host;
3. the role proves that a NEW connection (and privilege escalation) works, then calls ``confirm(name)``, which
   stops the timer and deletes the saved copy; if the timer already fired, ``confirm`` says so.

If the controller loses the host, nothing else is needed: the timer restores the previous state by itself.
``rollback(name)`` restores at once (a check failed while the connection still works).

The restore is one standalone script (``RESTORE_SCRIPT``), written next to the saved copy and run by the timer
and by ``rollback`` alike, so both paths are the same code. An unconfirmed earlier arm keeps its saved copy when
armed again: the state before an unconfirmed change is the one known to work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time

BASE_DIR = "/run"
# Files of the guard in its state directory /run/aisec-<name>/ (the role may keep its own files there too).
SNAPSHOT = "guard-snapshot.tar"
MANIFEST = "guard-manifest.json"
SCRIPT = "guard-restore.py"
ERRORS = "guard-restore-errors"
ROLLED_BACK = "rolled-back"
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# Paths a guard may never delete and restore as a whole: the system's top directories and the directories that
# hold configuration of several packages. Their files may be guarded one by one.
PROTECTED = frozenset([
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
    "/etc/ssh", "/etc/pam.d", "/etc/security", "/etc/sudoers.d", "/etc/systemd", "/etc/systemd/system",
    "/etc/default", "/etc/ssh/sshd_config.d", "/etc/nftables.d", "/usr/bin", "/usr/sbin", "/usr/lib",
    "/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/share", "/var/lib",
    "/var/log", "/var/cache", "/run/systemd",
])


class GuardError(Exception):
    """A refused input or a failed guard operation; the message is meant for the user."""


def check_name(name):
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise GuardError("name %r must match %s" % (name, NAME_RE.pattern))
    return name


def check_paths(paths):
    """Absolute, normalised paths below the protected top directories, without control characters."""
    out = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise GuardError("path %r is not absolute" % (path,))
        if any(ord(ch) < 32 or ch == "\x7f" for ch in path):
            raise GuardError("path %r contains a control character" % (path,))
        if os.path.normpath(path) != path or "//" in path:
            raise GuardError("path %r is not normalised (no '..', '.', '//' or trailing '/')" % (path,))
        if path in PROTECTED or path.count("/") < 2:
            raise GuardError("path %s is a system directory; guard the files inside it instead" % path)
        if path not in out:
            out.append(path)
    return out


def check_commands(commands):
    out = []
    for argv in commands:
        if (not isinstance(argv, list) or not argv
                or not all(isinstance(a, str) and "\0" not in a for a in argv) or not argv[0].startswith("/")):
            raise GuardError("restore command %r must be a non-empty list of arguments starting with an absolute "
                             "program path" % (argv,))
        out.append(list(argv))
    return out


def unit(name):
    return "aisec-%s-rollback" % check_name(name)


def state_dir(name, base=BASE_DIR):
    return os.path.join(base, "aisec-" + check_name(name))


def marker_path(name, base=BASE_DIR):
    """World-readable marker a rollback leaves, so that a play whose privilege escalation broke still sees it."""
    return os.path.join(base, "aisec-%s.rolled-back" % check_name(name))


RESTORE_SCRIPT = r'''# aisec.gpu_host safe-apply guard: restore the state saved when the guard was armed.
# Written by the aisec.gpu_host.safe_apply module; run by its systemd timer or by state=rolled_back.
import json, os, shutil, subprocess, sys, syslog, tarfile, time

def say(name, msg):
    try:
        syslog.openlog("aisec-" + name, 0, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_CRIT, msg)
    except Exception:
        pass
    sys.stderr.write(msg + "\n")

def remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)

def main(state, marker, root="/"):
    with open(os.path.join(state, "guard-manifest.json")) as handle:
        manifest = json.load(handle)
    name = manifest["name"]
    snapshot = os.path.join(state, "guard-snapshot.tar")
    if not os.path.isfile(snapshot):
        say(name, "rollback requested but no saved %s configuration exists" % name)
        return 1
    with tarfile.open(snapshot) as tar:
        members = tar.getmembers()
        for entry in manifest["paths"]:
            remove(os.path.join(root, entry["path"].lstrip("/")))
        kwargs = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        tar.extractall(root, members=members, numeric_owner=True, **kwargs)
    failed = []
    for argv in manifest["commands"]:
        try:
            rc = subprocess.call(argv)
        except OSError as exc:
            rc = "%s" % exc
        if rc != 0:
            failed.append("%s (%s)" % (" ".join(argv), rc))
    with open(os.path.join(state, "guard-restore-errors"), "w") as handle:
        handle.write("".join(line + "\n" for line in failed))
    with open(os.path.join(state, "rolled-back"), "w") as handle:
        handle.write("%d\n" % time.time())
    with open(marker, "w") as handle:
        handle.write("rolled back\n")
    os.chmod(marker, 0o644)
    os.unlink(snapshot)
    say(name, "lockout protection restored the %s configuration saved before the last change%s" % (
        name, ("; restore commands failed: " + "; ".join(failed)) if failed else ""))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], *sys.argv[3:4]))
'''


def _systemctl(*args):
    try:
        return subprocess.call(["systemctl"] + list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return 127


def timer_active(name):
    return _systemctl("is-active", "--quiet", unit(name) + ".timer") == 0


def _snapshot(paths, snapshot, root="/"):
    """Save the existing paths (recursively) into a tar file; return the manifest entries."""
    entries = []
    tmp = snapshot + ".new"
    with tarfile.open(tmp, "w") as tar:
        for path in paths:
            full = os.path.join(root, path.lstrip("/"))
            existed = os.path.lexists(full)
            entries.append({"path": path, "existed": existed})
            if existed:
                tar.add(full, arcname=path.lstrip("/"), recursive=True)
    os.rename(tmp, snapshot)
    return entries


def arm(name, timeout, paths, commands, python=None, base=BASE_DIR, start_timer=True, root="/"):
    """Save ``paths`` and schedule their restoration (plus ``commands``) in ``timeout`` seconds.

    Returns ``{"unit", "state_dir", "expires", "paths", "kept_snapshot"}``. ``start_timer=False`` and ``root``
    exist for the unit tests (no systemd, a scratch root).
    """
    check_name(name)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 10 <= timeout <= 86400:
        raise GuardError("timeout must be 10 to 86400 seconds, got %r" % (timeout,))
    paths = check_paths(paths)
    commands = check_commands(commands)
    directory = state_dir(name, base)
    timer = unit(name)
    old_umask = os.umask(0o077)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        snapshot = os.path.join(directory, SNAPSHOT)
        manifest_path = os.path.join(directory, MANIFEST)
        kept = False
        if start_timer and os.path.isfile(snapshot) and timer_active(name):
            # An earlier change was never confirmed: its saved state is the one known to work. Keep it (and the
            # paths it covers, plus any new ones) and restart the timer.
            with open(manifest_path) as handle:
                old = json.load(handle)
            missing = [p for p in paths if p not in [e["path"] for e in old["paths"]]]
            if missing:
                raise GuardError("an unconfirmed change guarded by %s is pending (its timer restores it); it does "
                                 "not cover %s: wait for the rollback or confirm it first" % (timer, ", ".join(missing)))
            entries = old["paths"]
            commands = old["commands"] + [c for c in commands if c not in old["commands"]]
            kept = True
        else:
            entries = _snapshot(paths, snapshot, root)
        for stale in (os.path.join(directory, ROLLED_BACK), os.path.join(directory, ERRORS), marker_path(name, base)):
            if os.path.lexists(stale):
                os.unlink(stale)
        script = os.path.join(directory, SCRIPT)
        with open(script + ".new", "w") as handle:
            handle.write(RESTORE_SCRIPT)
        os.rename(script + ".new", script)
        manifest = {"name": name, "paths": entries, "commands": commands, "armed": int(time.time()),
                    "timeout": timeout}
        with open(manifest_path + ".new", "w") as handle:
            json.dump(manifest, handle, sort_keys=True)
        os.rename(manifest_path + ".new", manifest_path)
    finally:
        os.umask(old_umask)
    if start_timer:
        _systemctl("stop", timer + ".timer", timer + ".service")
        _systemctl("reset-failed", timer + ".timer", timer + ".service")
        argv = ["systemd-run", "--quiet", "--collect", "--unit=" + timer, "--on-active=%ds" % timeout,
                "--timer-property=AccuracySec=1s",
                "--description=aisec.gpu_host safe-apply guard %s: restore the state before the change" % name,
                python or sys.executable, "-I", "-S", script, directory, marker_path(name, base)]
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _out, err = proc.communicate()
        except OSError as exc:
            raise GuardError("cannot start the rollback timer (systemd-run): %s" % exc)
        if proc.returncode != 0:
            raise GuardError("cannot start the rollback timer (systemd-run): %s" % err.decode("utf-8", "replace"))
    return {"unit": timer + ".timer", "state_dir": directory, "expires": int(time.time()) + timeout,
            "paths": [e["path"] for e in entries], "kept_snapshot": kept}


def rolled_back(name, base=BASE_DIR):
    return os.path.exists(os.path.join(state_dir(name, base), ROLLED_BACK))


def timing(name, base=BASE_DIR):
    """``(armed, rolled_back)`` Unix times of the last guard of ``name`` (``None`` where unknown)."""
    directory = state_dir(name, base)
    armed = restored = None
    try:
        with open(os.path.join(directory, MANIFEST)) as handle:
            armed = json.load(handle).get("armed")
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(directory, ROLLED_BACK)) as handle:
            restored = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return armed, restored


def _drop(directory):
    for item in (SNAPSHOT, MANIFEST, SCRIPT, ERRORS, ROLLED_BACK):
        path = os.path.join(directory, item)
        if os.path.lexists(path):
            os.unlink(path)


def confirm(name, base=BASE_DIR, stop_timer=True):
    """Stop the timer and drop the saved state. Returns ``"confirmed"``, ``"not_armed"`` or ``"rolled_back"``
    (the timer restored the previous state before the confirmation: the change is gone)."""
    directory = state_dir(name, base)
    if stop_timer:
        _systemctl("stop", unit(name) + ".timer")
    if rolled_back(name, base):
        return "rolled_back"
    if not os.path.exists(os.path.join(directory, SNAPSHOT)):
        return "not_armed"
    _drop(directory)
    return "confirmed"


def rollback(name, python=None, base=BASE_DIR, stop_timer=True, root="/"):
    """Restore the saved state now with the same script the timer runs. Returns ``(restored, message)``."""
    directory = state_dir(name, base)
    if stop_timer:
        _systemctl("stop", unit(name) + ".timer")
    if rolled_back(name, base):
        return False, "the timer had already restored the saved state"
    script = os.path.join(directory, SCRIPT)
    if not os.path.isfile(os.path.join(directory, SNAPSHOT)) or not os.path.isfile(script):
        return False, "nothing to restore: the guard %s is not armed" % name
    argv = [python or sys.executable, "-I", "-S", script, directory, marker_path(name, base)]
    if root != "/":
        argv.append(root)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _out, err = proc.communicate()
    if proc.returncode != 0:
        raise GuardError("restoring the saved state failed: %s" % err.decode("utf-8", "replace").strip())
    with open(os.path.join(directory, ERRORS)) as handle:
        failed = "; ".join(handle.read().split("\n")).strip("; ")
    return True, ("restored; restore commands failed: %s" % failed) if failed else "restored"

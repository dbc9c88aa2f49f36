# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only probe of aisec.gpu_host.access (runs on the target, Python standard library only, Python 3.6+).

tasks/state.yml runs it once per host with ``python3 -`` (this file on stdin) and the request as JSON in the
environment variable AISEC_ACCESS_PROBE. It reads everything the role decides on, so that the changing tasks
run only where there is drift:

* ``packages``: installed version (or null) of each requested package (dpkg status);
* ``pam_modules``: the PAM module file names present in the system's security directories;
* ``groups`` / ``passwd``: the group and user databases (name service, like getent);
* ``shadow``: for the requested users only, whether the password is locked, the expiry day and the sha256 of
  the password field (never the field itself);
* ``homes``: per requested user, whether the home directory exists;
* ``files``: the content of the requested small text files (PAM stacks and services), null when missing;
* ``dirs``: the names in the requested directories (authorized keys, TOTP secrets), null when missing;
* ``totp``: per requested user, the sha256 of the normalised TOTP secret file (secret and options without the
  state pam_google_authenticator appends), null when missing: no secret leaves the host.

Nothing is changed. Prints one JSON object.
"""

from __future__ import absolute_import, division, print_function

import glob
import grp
import hashlib
import json
import os
import pwd
import subprocess
import sys

PAM_MODULE_GLOBS = (
    "/lib*/security/pam_*.so",
    "/lib/*/security/pam_*.so",
    "/usr/lib*/security/pam_*.so",
    "/usr/lib/*/security/pam_*.so",
)
MAX_FILE = 256 * 1024


def packages(names):
    result = dict((name, None) for name in names)
    if not names:
        return result
    try:
        proc = subprocess.Popen(
            ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n"] + list(names),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _err = proc.communicate()
    except OSError:
        return result
    for line in out.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0] in result and fields[1][1:2] == "i":
            result[fields[0]] = fields[2]
    return result


def pam_modules():
    found = set()
    for pattern in PAM_MODULE_GLOBS:
        for path in glob.glob(pattern):
            found.add(os.path.basename(path))
    return sorted(found)


def groups():
    return dict((g.gr_name, {"gid": g.gr_gid, "members": list(g.gr_mem)}) for g in grp.getgrall())


def passwd():
    return dict(
        (p.pw_name, {"uid": p.pw_uid, "gid": p.pw_gid, "gecos": p.pw_gecos, "home": p.pw_dir, "shell": p.pw_shell})
        for p in pwd.getpwall())


def shadow(names):
    result = dict((name, None) for name in names)
    wanted = set(names)
    try:
        with open("/etc/shadow", "r") as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if len(fields) < 8 or fields[0] not in wanted:
                    continue
                field = fields[1]
                result[fields[0]] = {
                    "locked": field.startswith("!"),
                    "expire": int(fields[7]) if fields[7].isdigit() else None,
                    "password_sha256": hashlib.sha256(field.encode("utf-8")).hexdigest(),
                }
    except (IOError, OSError):
        pass
    return result


def read_text(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE + 1)
    except (IOError, OSError):
        return None
    if len(data) > MAX_FILE:
        return None
    return data.decode("utf-8", "replace")


def list_dir(path):
    try:
        return sorted(os.listdir(path))
    except (IOError, OSError):
        return None


def home_exists(name):
    try:
        return os.path.isdir(pwd.getpwnam(name).pw_dir)
    except KeyError:
        return False


def totp_digest(text):
    """sha256 of a pam_google_authenticator secret file without the state the module appends."""
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


def main():
    try:
        request = json.loads(os.environ.get("AISEC_ACCESS_PROBE") or "{}")
    except ValueError as exc:
        print(json.dumps({"error": "AISEC_ACCESS_PROBE is not JSON: %s" % exc}))
        return 1
    totp_dir = request.get("totp_dir") or ""
    result = {
        "packages": packages(request.get("packages") or []),
        "pam_modules": pam_modules(),
        "groups": groups(),
        "passwd": passwd(),
        "shadow": shadow(request.get("shadow_users") or []),
        "files": dict((path, read_text(path)) for path in request.get("files") or []),
        "dirs": dict((path, list_dir(path)) for path in request.get("dirs") or []),
        "homes": dict((name, home_exists(name)) for name in request.get("home_users") or []),
        "totp": dict(
            (user, totp_digest(read_text(os.path.join(totp_dir, user))) if totp_dir else None)
            for user in request.get("totp_users") or []),
    }
    sys.stdout.write(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

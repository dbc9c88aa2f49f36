# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Post-change checks of aisec.gpu_host.access (runs on the target, Python standard library only, 3.6+).

tasks/checks.yml runs it once, after sshd was reloaded, with ``python3 -`` and the request as JSON in the
environment variable AISEC_ACCESS_CHECKS:

* ``sshd_user``: when set, ``sshd -T -C user=NAME,host=localhost,addr=127.0.0.1`` (sshd's effective
  configuration for that user) is returned as ``sshd_t`` lines; the role compares it with what it wrote;
* ``visudo``: when true, ``visudo -c -q`` checks the complete sudoers configuration (``visudo``: rc, output);
* then the first address sshd listens on (IPv4 first, a wildcard as loopback) must answer with an OpenSSH
  banner within ``timeout`` seconds (``banner``, ``listen``, ``banner_error``).

Nothing is changed. Prints one JSON object and exits 0; the role turns the fields into assertions.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import socket
import subprocess
import sys
import time


def run(argv):
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def listen_address(sshd_lines):
    """(host, port) sshd accepts connections on, from sshd -T's listenaddress lines."""
    found = []
    for line in sshd_lines:
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
    found.sort(key=lambda entry: entry[0])  # IPv4 first
    return found[0][1], found[0][2]


def banner(host, port, timeout):
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


def main():
    try:
        request = json.loads(os.environ.get("AISEC_ACCESS_CHECKS") or "{}")
    except ValueError as exc:
        print(json.dumps({"error": "AISEC_ACCESS_CHECKS is not JSON: %s" % exc}))
        return 0
    result = {"sshd_t": None, "sshd_t_error": None, "visudo": None, "listen": None, "banner": None,
              "banner_error": None}
    lines = []
    if request.get("sshd_user"):
        rc, out, err = run(["/usr/sbin/sshd", "-T", "-C",
                            "user=%s,host=localhost,addr=127.0.0.1" % request["sshd_user"]])
        if rc == 0:
            lines = out.splitlines()
            result["sshd_t"] = lines
        else:
            result["sshd_t_error"] = (err or out).strip() or "sshd -T exited with %d" % rc
    if request.get("visudo"):
        rc, out, err = run(["/usr/sbin/visudo", "-c", "-q"])
        result["visudo"] = {"rc": rc, "output": (out + err).strip()}
    if request.get("sshd_user"):
        host, port = listen_address(lines)
        result["listen"] = {"host": host, "port": port}
        result["banner"], result["banner_error"] = banner(host, port, float(request.get("timeout") or 15))
    sys.stdout.write(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

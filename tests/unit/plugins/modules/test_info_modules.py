# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The documented state readers (access_info, firewall_info, host_info) run as Ansible runs them on a target: the
module file as a subprocess with its arguments, read-only, every section reported, no secret in the output; and the
readers they share (module_utils/host_state.py, access_state.py)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_plan
from ansible_collections.aisec.gpu_host.plugins.module_utils import access_state
from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES = os.path.join(ROOT, "plugins", "modules")
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
OPTIONS = ['" RATE_LIMIT 3 30', '" WINDOW_SIZE 3', '" DISALLOW_REUSE', '" TOTP_AUTH']


def run_module(name, args, tmp_path, check_mode=False):
    args_file = tmp_path.parent / ("%s-%s-args.json" % (tmp_path.name, name))
    module_args = dict(args)
    if check_mode:
        module_args["_ansible_check_mode"] = True
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": COLLECTIONS, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run([sys.executable, os.path.join(MODULES, name + ".py"), str(args_file)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return json.loads(proc.stdout), proc.stdout


def test_totp_digest_matches_the_controller_and_ignores_module_state():
    fresh = SECRET + "\n" + "\n".join(OPTIONS) + "\n"
    # What pam_google_authenticator leaves after use: state after RATE_LIMIT and DISALLOW_REUSE, blank lines.
    used = (SECRET + "\n\" RATE_LIMIT 3 30 1700000000 1700000010\n\" WINDOW_SIZE 3\n"
            "\" DISALLOW_REUSE 56666666 56666667\n\" TOTP_AUTH\n\n")
    variables = {"access_users": [{"name": "adm-ann", "role": "admin", "ssh_keys": [], "totp_secret": SECRET}],
                 "access_ssh_enabled": False, "access_sudo_enabled": True, "access_sudo_mfa": "totp",
                 "access_totp_rate_limit_attempts": 3, "access_totp_rate_limit_seconds": 30,
                 "access_totp_window_size": 3, "access_totp_disallow_reuse": True}
    want = access_plan.desired(variables)["totp_digests"]["adm-ann"]
    assert access_state.totp_digest(fresh) == want
    assert access_state.totp_digest(used) == want
    assert access_state.totp_digest(fresh.replace(SECRET, "A" * 24)) != want
    assert access_state.totp_digest(fresh.replace("WINDOW_SIZE 3", "WINDOW_SIZE 17")) != want
    assert access_state.totp_digest(None) is None


@pytest.mark.parametrize("check_mode", [False, True])
def test_access_info_runs_read_only_and_reports_every_section(tmp_path, check_mode):
    secrets = tmp_path / "totp"
    secrets.mkdir()
    (secrets / "adm-ann").write_text(SECRET + "\n" + "\n".join(OPTIONS) + "\n")
    (tmp_path / "pam-sudo").write_text("@include aisec-sudo-auth\n@include common-auth\n")
    sudoers = tmp_path / "sudoers.d"
    sudoers.mkdir()
    (sudoers / "README").write_text("# comments only\n")
    (sudoers / "zz").write_text("op-test ALL=(ALL) NOPASSWD: ALL\n")
    (sudoers / "skipped.bak").write_text("x ALL=(ALL) ALL\n")
    before = sorted(os.listdir(tmp_path))
    out, stdout = run_module("access_info", {
        "packages": ["dpkg", "no-such-package-aisec"],
        "accounts": ["root", "no-such-user-aisec"],
        "files": [str(tmp_path / "pam-sudo"), str(tmp_path / "missing")],
        "contents": [str(tmp_path / "pam-sudo"), str(tmp_path / "missing")],
        "directories": [str(secrets), str(tmp_path / "nodir")],
        "totp_dir": str(secrets),
        "totp_users": ["adm-ann", "adm-bob"],
        "sudoers_dir": str(sudoers),
        "processes_of": ["root"],
    }, tmp_path, check_mode)
    assert sorted(os.listdir(tmp_path)) == before
    assert out["changed"] is False
    assert out["packages"]["dpkg"] and out["packages"]["no-such-package-aisec"] is None
    assert "root" in out["groups"] and isinstance(out["groups"]["root"]["members"], list)
    assert out["passwd"]["root"]["uid"] == 0 and out["passwd"]["root"]["home"] == "/root"
    assert out["homes"]["root"]["exists"] and out["homes"]["root"]["path"] == "/root"
    assert out["homes"]["no-such-user-aisec"] is None
    assert out["shadow"]["no-such-user-aisec"] is None
    if os.geteuid() == 0:
        root = out["shadow"]["root"]
        assert set(root) == {"locked", "expire", "password_sha256"} and len(root["password_sha256"]) == 64
    assert out["contents"][str(tmp_path / "pam-sudo")].startswith("@include aisec-sudo-auth")
    assert out["contents"][str(tmp_path / "missing")] is None
    assert out["files"][str(tmp_path / "pam-sudo")]["type"] == "file"
    assert out["files"][str(tmp_path / "missing")] == {"exists": False}
    assert out["directories"] == {str(secrets): ["adm-ann"], str(tmp_path / "nodir"): None}
    assert out["totp"] == {"adm-ann": access_state.totp_digest(SECRET + "\n" + "\n".join(OPTIONS)), "adm-bob": None}
    assert sorted(out["sudoers_dropins"]) == ["README", "zz"]
    assert out["sudoers_dropins"]["README"]["rules"] is False
    assert out["sudoers_dropins"]["zz"]["lines"] == ["op-test ALL=(ALL) NOPASSWD: ALL"]
    assert (os.getpid() in out["processes"]["root"]) is (os.geteuid() == 0)
    assert SECRET not in stdout  # no secret leaves the host


def test_host_info_and_firewall_info_without_a_ruleset(tmp_path):
    (tmp_path / "f").write_text("x\n")
    os.chmod(tmp_path / "f", 0o640)
    os.symlink("f", tmp_path / "l")
    out, _stdout = run_module("host_info", {"files": [str(tmp_path / "f"), str(tmp_path / "l"), str(tmp_path)],
                                            "services": ["no-such-unit-aisec.service"]}, tmp_path)
    f = out["files"][str(tmp_path / "f")]
    assert f["type"] == "file" and f["mode"] == "0640" and f["size"] == 2
    assert f["sha256"] == __import__("hashlib").sha256(b"x\n").hexdigest()
    assert out["files"][str(tmp_path / "l")] == dict(out["files"][str(tmp_path / "l")], type="link", target="f")
    assert out["files"][str(tmp_path)]["type"] == "directory"
    assert out["services"]["no-such-unit-aisec.service"]["active"] in ("inactive", "unknown")
    fw, _stdout = run_module("firewall_info", {"controller": True, "files": [str(tmp_path / "f")]}, tmp_path)
    assert fw["table"] is None and fw["controller"] == {"address": None, "port": None}


@pytest.mark.parametrize("lines,expected", [
    ([], ("127.0.0.1", 22)),
    (["port 22", "listenaddress [::]:22", "listenaddress 0.0.0.0:22"], ("127.0.0.1", 22)),
    (["listenaddress [::]:2222"], ("::1", 2222)),
    (["listenaddress 10.1.2.3:2200", "listenaddress [fd00::1]:2200"], ("10.1.2.3", 2200)),
    (["listenaddress garbage", "listenaddress 10.0.0.1:notaport"], ("127.0.0.1", 22)),
])
def test_listen_address(lines, expected):
    assert access_state.listen_address(lines) == expected


def test_banner_waits_for_openssh_and_times_out():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer():
        for reply in (b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"):
            conn, _addr = server.accept()
            conn.sendall(reply)
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    banner, error = access_state.ssh_banner("127.0.0.1", port, 10)
    assert banner.startswith("SSH-2.0-OpenSSH") and error is None
    server.close()
    banner, error = access_state.ssh_banner("127.0.0.1", port, 0.2)
    assert banner is None and error


def test_home_state_reports_open_homes_and_writable_dotfiles(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)
    (home / ".bashrc").write_text("x")
    os.chmod(home / ".bashrc", 0o666)
    (home / ".profile").write_text("x")
    os.chmod(home / ".profile", 0o644)
    os.symlink("/etc/passwd", home / ".link")

    class Entry:
        pw_dir = str(home)
    monkeypatch.setattr(access_state.pwd, "getpwnam", lambda name: Entry())
    state = access_state.home_state("anyone")
    assert state["exists"] and state["mode"] == "0755"
    assert state["writable_dotfiles"] == [{"name": ".bashrc", "mode": "0666"}]


def test_file_state_reports_unreadable_files_without_raising(tmp_path):
    assert host_state.file_state(str(tmp_path / "missing")) == {"exists": False}
    assert host_state.read_text(str(tmp_path / "missing")) is None
    big = tmp_path / "big"
    big.write_bytes(b"x" * (host_state.MAX_CONTENT + 1))
    assert host_state.read_text(str(big)) is None

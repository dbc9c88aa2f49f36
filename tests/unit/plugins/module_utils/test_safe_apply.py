# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The safe-apply guard (plugins/module_utils/safe_apply.py) on a scratch root: save, change, restore, confirm.

The timer itself needs systemd (exercised by the firewall, firewall_rollback and access Molecule scenarios); here
the restore script the timer runs is run by rollback(), which is the same code path."""
from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import safe_apply as guard


@pytest.fixture()
def scratch(tmp_path):
    (tmp_path / "state").mkdir()
    root = tmp_path / "root"
    (root / "etc" / "ssh" / "sshd_config.d").mkdir(parents=True)
    (root / "etc" / "ssh" / "authorized_keys").mkdir()
    (root / "etc" / "ssh" / "sshd_config.d" / "10-a.conf").write_text("PermitRootLogin no\n")
    (root / "etc" / "ssh" / "authorized_keys" / "alice").write_text("key-a\n")
    os.chmod(root / "etc" / "ssh" / "authorized_keys" / "alice", 0o644)
    return root, tmp_path / "state"


def arm(root, base, paths, commands=()):
    return guard.arm("test", 60, paths, list(commands), python=sys.executable, base=str(base),
                     start_timer=False, root=str(root))


def test_rollback_restores_files_directories_and_removes_new_ones(scratch):
    root, base = scratch
    result = arm(root, base, ["/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/authorized_keys",
                              "/etc/ssh/sshd_config.d/20-new.conf"])
    assert result["paths"] == ["/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/authorized_keys",
                               "/etc/ssh/sshd_config.d/20-new.conf"]
    assert stat.S_IMODE(os.stat(base / "aisec-test").st_mode) == 0o700
    # the change
    (root / "etc/ssh/sshd_config.d/10-a.conf").write_text("PermitRootLogin yes\n")
    (root / "etc/ssh/sshd_config.d/20-new.conf").write_text("AllowGroups mallory\n")
    (root / "etc/ssh/authorized_keys/alice").unlink()
    (root / "etc/ssh/authorized_keys/mallory").write_text("key-m\n")
    restored, message = guard.rollback("test", python=sys.executable, base=str(base), stop_timer=False,
                                       root=str(root))
    assert restored and message == "restored"
    assert (root / "etc/ssh/sshd_config.d/10-a.conf").read_text() == "PermitRootLogin no\n"
    assert not (root / "etc/ssh/sshd_config.d/20-new.conf").exists()
    assert sorted(os.listdir(root / "etc/ssh/authorized_keys")) == ["alice"]
    assert stat.S_IMODE(os.stat(root / "etc/ssh/authorized_keys/alice").st_mode) == 0o644
    # the world-readable marker tells a play whose sudo broke what happened; confirming now says so
    assert os.stat(guard.marker_path("test", str(base))).st_mode & 0o004
    assert guard.confirm("test", base=str(base), stop_timer=False) == "rolled_back"


def test_restore_commands_run_and_failures_are_reported(scratch, tmp_path):
    root, base = scratch
    out = tmp_path / "ran"
    arm(root, base, ["/etc/ssh/sshd_config.d/10-a.conf"],
        [["/bin/sh", "-c", "echo restored > %s" % out], ["/bin/false"]])
    restored, message = guard.rollback("test", python=sys.executable, base=str(base), stop_timer=False,
                                       root=str(root))
    assert restored and "/bin/false (1)" in message
    assert out.read_text() == "restored\n"


def test_confirm_drops_the_saved_state(scratch):
    root, base = scratch
    arm(root, base, ["/etc/ssh/sshd_config.d/10-a.conf"])
    assert guard.confirm("test", base=str(base), stop_timer=False) == "confirmed"
    assert not (base / "aisec-test" / "guard-snapshot.tar").exists()
    assert guard.confirm("test", base=str(base), stop_timer=False) == "not_armed"
    assert guard.rollback("test", python=sys.executable, base=str(base), stop_timer=False,
                          root=str(root)) == (False, "nothing to restore: the guard test is not armed")


def test_arming_again_clears_an_old_rollback_marker(scratch):
    root, base = scratch
    arm(root, base, ["/etc/ssh/sshd_config.d/10-a.conf"])
    guard.rollback("test", python=sys.executable, base=str(base), stop_timer=False, root=str(root))
    arm(root, base, ["/etc/ssh/sshd_config.d/10-a.conf"])
    assert not os.path.exists(guard.marker_path("test", str(base)))
    with open(base / "aisec-test" / "guard-manifest.json") as handle:
        assert json.load(handle)["paths"] == [{"path": "/etc/ssh/sshd_config.d/10-a.conf", "existed": True}]


@pytest.mark.parametrize("path", [
    "/etc", "/etc/ssh", "/etc/pam.d", "/", "relative/path", "/etc/ssh/../shadow", "/etc//ssh/x",
    "/etc/ssh/x\n/etc", "/etc/ssh/x/", "/usr/lib",
])
def test_dangerous_paths_are_refused(path):
    with pytest.raises(guard.GuardError):
        guard.check_paths([path])


@pytest.mark.parametrize("name", ["", "Access", "a b", "x" * 40, "../x", "a;rm"])
def test_bad_names_are_refused(name):
    with pytest.raises(guard.GuardError):
        guard.check_name(name)


@pytest.mark.parametrize("command", [[], ["nft", "-f", "x"], "nft -f x", [1, 2], ["/usr/sbin/nft", "a\0b"]])
def test_bad_restore_commands_are_refused(command):
    with pytest.raises(guard.GuardError):
        guard.check_commands([command])


def test_bad_timeouts_are_refused(scratch):
    root, base = scratch
    for timeout in (5, 10 ** 6, True, "60"):
        with pytest.raises(guard.GuardError):
            guard.arm("test", timeout, [], [], base=str(base), start_timer=False, root=str(root))

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario "access_totp": key plus TOTP code over real SSH, sudo asking for the code, and
pam_faillock locking an administrator after wrong codes."""
from __future__ import annotations

import re
import time

from helpers import totp

DAVE_TOTP = "NIY6CBHNP4W6QKHVWFNQDVUETVQ5QW2Z"
ERIN_TOTP = "EJACGEOHVGERQ7FJD2KSSWVYN7YJZ76Q"
KBD = ("-o", "PreferredAuthentications=publickey,keyboard-interactive")


def sshd_t(target, user):
    out = target.check_output("sshd -T -C user=%s,host=access-totp-client,addr=10.213.87.11", user)
    return dict(line.partition(" ")[::2] for line in out.splitlines())


def test_sshd_requires_key_and_code_from_administrators_only(target):
    admin = sshd_t(target, "adm-dave")
    assert admin["authenticationmethods"] == "publickey,keyboard-interactive:pam"
    assert admin["kbdinteractiveauthentication"] == "yes"
    assert admin["passwordauthentication"] == "no"
    assert "ssh-ed25519" in admin["pubkeyacceptedalgorithms"].split(",")
    operator = sshd_t(target, "op-frank")
    assert operator["authenticationmethods"] == "publickey"
    assert operator["kbdinteractiveauthentication"] == "no"
    # sshd's PAM stack asks for the code only; the password stack is never reached.
    assert target.file("/etc/pam.d/sshd").content_string.startswith("@include aisec-sshd-auth\n")
    assert "pam_google_authenticator.so" in target.file("/etc/pam.d/aisec-sshd-auth").content_string


def test_administrator_logs_in_with_key_and_code_and_sudo_asks_for_a_code(ssh):
    now = time.time()
    login, sudo_code = totp(DAVE_TOTP, 0, now), totp(DAVE_TOTP, 1, now)
    res = ssh("adm-dave", "id -un; echo %s | sudo -S -k id -u; echo 000000 | sudo -S -k id -u; echo rc=$?" % sudo_code,
              key="adm-dave", answer=login, options=KBD)
    assert res.rc == 0, res.stderr
    lines = res.stdout.split()
    assert lines[0] == "adm-dave"
    assert lines[1] == "0"          # right code: root
    assert lines[-1] == "rc=1"      # wrong code: refused
    assert "Verification code" in res.stderr


def test_key_without_code_is_refused(ssh):
    res = ssh("adm-dave", key="adm-dave")
    assert res.rc == 255 and "Permission denied" in res.stderr


def test_code_without_key_is_refused(ssh):
    res = ssh("adm-dave", answer=totp(DAVE_TOTP, -1), options=KBD)
    assert res.rc == 255 and "Permission denied (publickey)" in res.stderr


def test_password_is_not_a_second_factor(target, ssh):
    shadow = target.check_output("getent shadow adm-dave | cut -d: -f2")
    target.run_expect([0], "echo 'adm-dave:Pw-Test-12345' | chpasswd")
    try:
        res = ssh("adm-dave", key="adm-dave", answer="Pw-Test-12345", options=KBD)
        assert res.rc == 255
        assert "Permission denied" in res.stderr or "Too many authentication failures" in res.stderr, res.stderr
    finally:
        target.run_expect([0], "usermod -p %s adm-dave", shadow)


def test_operator_logs_in_with_a_key_only(ssh):
    res = ssh("op-frank", "id -un", key="op-frank")
    assert res.rc == 0 and res.stdout.strip() == "op-frank", res.stderr


def test_wrong_codes_lock_the_administrator_out_of_ssh(target, ssh):
    target.run_expect([0], "faillock --user adm-erin --reset")
    now = time.time()
    for attempt in range(2):  # up to 3 prompts per connection (NumberOfPasswordPrompts), deny = 3
        res = ssh("adm-erin", key="adm-erin", answer="000000", options=KBD)
        assert res.rc == 255, "wrong code accepted on attempt %d" % attempt
    tally = target.check_output("faillock --user adm-erin")
    assert len(re.findall(r"\sV\s*$", tally, re.M)) >= 3, tally
    right = totp(ERIN_TOTP, 0, now)
    res = ssh("adm-erin", key="adm-erin", answer=right, options=KBD)
    assert res.rc == 255, "a locked administrator must be refused even with the right code"
    target.run_expect([0], "faillock --user adm-erin --reset")
    res = ssh("adm-erin", "id -un", key="adm-erin", answer=right, options=KBD)
    assert res.rc == 0 and res.stdout.strip() == "adm-erin", res.stderr


def test_departed_administrator_is_locked_not_removed(target):
    """access_prune_action=lock: the account stays (for investigations), locked, expired and out
    of the role groups."""
    gone = target.user("adm-gone")
    assert gone.exists
    assert "ai-admins" not in gone.groups
    shadow = target.check_output("getent shadow adm-gone").split(":")
    assert shadow[1].startswith("!") and shadow[7] == "1"
    assert not target.file("/etc/ssh/authorized_keys/adm-gone").exists


def test_role_stays_idempotent_after_codes_were_used(target, run_role):
    """pam_google_authenticator rewrites the secret files (rate-limit and reuse state); the role
    must not take that for drift."""
    state = target.file("/var/lib/aisec-access/totp/adm-dave").content_string
    assert re.search(r'^" DISALLOW_REUSE [0-9]+', state, re.M), "no code was used in the tests above"
    proc = run_role()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"changed=0\s", proc.stdout), proc.stdout[-3000:]
    assert target.file("/var/lib/aisec-access/totp/adm-dave").content_string == state

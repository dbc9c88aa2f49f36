# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario "access" (FIDO2 mode): real SSH logins from access-client, PAM and sudo on the target,
and the lockout guards exercised by running the role over SSH from the controller."""
from __future__ import annotations

import re

from helpers import totp

ALICE_TOTP = "WDTKMAYP4I7OMS6H3FRNOEZR5RVA3FHR"
CAROL_TOTP = "DTILAGVNXUO3NXVWS6DAELNNRJWBENX2"
KEYDIR = "/etc/ssh/authorized_keys"
DROPIN = "/etc/ssh/sshd_config.d/10-aisec-access.conf"
DENIED = "Permission denied"


def sshd_t(target, user):
    out = target.check_output("sshd -T -C user=%s,host=access-client,addr=10.213.86.11", user)
    conf = {}
    for line in out.splitlines():
        key, value = line.partition(" ")[::2]
        conf.setdefault(key, []).append(value)
    return conf


def journal_since(target, cursor_file, pattern):
    """Journal lines matching pattern written after the cursor saved in cursor_file."""
    return target.run("journalctl --no-pager -q --after-cursor=\"$(cat %s)\" | grep -E %s", cursor_file, pattern).stdout


def save_cursor(target, cursor_file):
    target.run_expect([0], "journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p' > %s", cursor_file)


def test_sshd_configuration_is_valid_and_strict(target):
    assert target.run("sshd -t").rc == 0
    conf = sshd_t(target, "op-bob")
    assert conf["permitrootlogin"] == ["no"]
    assert conf["passwordauthentication"] == ["no"]
    assert conf["kbdinteractiveauthentication"] == ["no"]
    assert conf["authenticationmethods"] == ["publickey"]
    assert conf["authorizedkeysfile"] == [KEYDIR + "/%u"]
    assert set(conf["allowgroups"]) == {"ai-admins", "ai-operators", "ai-automation"}
    assert {"root", "breakglass", "svc-inference"} <= set(conf["denyusers"])
    assert "ssh-ed25519" in conf["pubkeyacceptedalgorithms"][0].split(",")
    assert not [c for c in conf["ciphers"][0].split(",") if "cbc" in c]
    assert not [m for m in conf["macs"][0].split(",") if not m.endswith("-etm@openssh.com")]


def test_sshd_accepts_only_fido2_keys_from_administrators(target):
    conf = sshd_t(target, "adm-alice")
    algorithms = conf["pubkeyacceptedalgorithms"][0].split(",")
    assert algorithms and all(a.startswith("sk-") for a in algorithms)
    assert "sk-ssh-ed25519@openssh.com" in algorithms
    assert "sk-ecdsa-sha2-nistp256@openssh.com" in algorithms
    assert conf["pubkeyauthoptions"] == ["touch-required verify-required"]
    assert target.file(KEYDIR + "/adm-alice").content_string.strip().splitlines()[-1].startswith(
        "verify-required sk-ssh-ed25519@openssh.com ")


def test_passwords_are_refused(target, ssh):
    shadow = target.check_output("getent shadow op-bob | cut -d: -f2")
    target.run_expect([0], "echo 'op-bob:Pw-Test-12345' | chpasswd")
    try:
        res = ssh("op-bob", "true", answer="Pw-Test-12345", verbose=True,
                  options=("-o", "PreferredAuthentications=password,keyboard-interactive"))
        assert res.rc == 255
        assert "Permission denied (publickey)" in res.stderr
    finally:
        target.run_expect([0], "usermod -p %s op-bob", shadow)


def test_root_cannot_log_in(target, ssh):
    original = target.run("cat %s/root", KEYDIR)
    target.run_expect([0], "cp %s/op-bob %s/root", KEYDIR, KEYDIR)
    try:
        res = ssh("root", key="op-bob")
        assert res.rc == 255 and DENIED in res.stderr
    finally:
        target.run_expect([0], "rm -f %s/root", KEYDIR)
    assert original.rc != 0


def test_operator_logs_in_with_a_key_and_has_no_root_shell(ssh):
    res = ssh("op-bob", "id -un; id -Gn", key="op-bob")
    assert res.rc == 0, res.stderr
    name, groups = res.stdout.splitlines()[:2]
    assert name == "op-bob" and "ai-operators" in groups.split()
    forbidden = ("sudo -n -i", "sudo -n -s", "sudo -n /bin/bash", "sudo -n systemctl restart ssh.service",
                 "sudo -n journalctl -u ssh.service", "sudo -n journalctl -u vllm.service --vacuum-size=1",
                 "sudo -n journalctl -u vllm.service -D /var/log/journal", "sudo -n cat /etc/shadow")
    script = "; ".join("%s </dev/null >/dev/null 2>&1; echo $?" % cmd for cmd in forbidden)
    res = ssh("op-bob", script, key="op-bob")
    codes = res.stdout.split()
    assert len(codes) == len(forbidden), res.stdout + res.stderr
    assert all(code != "0" for code in codes), dict(zip(forbidden, codes))


def test_operator_restarts_the_service_and_reads_its_logs(target, ssh):
    before = target.check_output("systemctl show -p InvocationID --value vllm.service")
    res = ssh("op-bob", "sudo -n systemctl restart vllm.service && sudo -n systemctl status vllm.service",
              key="op-bob")
    assert res.rc == 0, res.stderr
    assert target.check_output("systemctl show -p InvocationID --value vllm.service") != before
    res = ssh("op-bob", "sudo -n journalctl -u vllm.service -n 20 -o cat", key="op-bob")
    assert res.rc == 0 and "stand-in inference service" in res.stdout
    # The sudo I/O log records what operators ran.
    assert target.run("test -n \"$(ls -A /var/log/sudo-io)\"").rc == 0
    assert "op-bob" in target.check_output("cat /var/log/sudo.log")


def test_operator_cannot_read_the_weights(target, ssh):
    target.run_expect([0], "printf weights > /srv/models/model.bin && chmod 0640 /srv/models/model.bin "
                           "&& chgrp ai-weights /srv/models/model.bin")
    res = ssh("op-bob", "ls /srv/models; cat /srv/models/model.bin", key="op-bob")
    assert res.rc != 0 and "Permission denied" in res.stderr


def test_administrator_with_plain_key_is_refused(target, ssh, client):
    path = KEYDIR + "/adm-alice"
    original = target.file(path).content_string
    plain = client.check_output("ssh-keygen -y -f /root/keys/adm-alice-plain")
    target.run_expect([0], "printf '%%s\\n' %s >> %s", plain, path)
    save_cursor(target, "/tmp/cursor-alice")
    try:
        res = ssh("adm-alice", key="adm-alice-plain")
        assert res.rc == 255 and DENIED in res.stderr
        assert "not in PubkeyAcceptedAlgorithms" in journal_since(target, "/tmp/cursor-alice", "adm-alice|PubkeyAccepted")
    finally:
        target.run_expect([0], "printf '%%s' %s > %s", original, path)
    # The same kind of key works for a non-administrator (op-bob above): the refusal is the policy.


def test_administrator_sudo_asks_for_the_totp_code(target):
    code = totp(ALICE_TOTP)
    ok = target.run("su - adm-alice -c 'echo %s | sudo -S -k id -u'" % code)
    assert ok.rc == 0 and ok.stdout.strip() == "0", ok.stderr
    assert "Verification code" in ok.stderr
    bad = target.run("su - adm-alice -c 'echo 000000 | sudo -S -k id -u'")
    assert bad.rc != 0 and bad.stdout.strip() != "0"
    assert "Verification code" in bad.stderr


def test_repeated_failures_lock_the_account_and_are_logged(target):
    """Three wrong codes lock adm-carol; then even the right code is refused by pam_faillock before
    the TOTP module is asked. (One su session: su's account check must not be in between.)"""
    target.run_expect([0], "faillock --user adm-carol --reset")
    save_cursor(target, "/tmp/cursor-carol")
    res = target.run("su - adm-carol -c \"printf '000000\\n000001\\n000002\\n' | sudo -S -k true; "
                     "echo %s | sudo -S -k true; echo rc=\\$?\"" % totp(CAROL_TOTP))
    assert res.stdout.strip().endswith("rc=1"), res.stdout
    assert len(re.findall(r"\sV\s*$", target.check_output("faillock --user adm-carol"), re.M)) >= 3
    # Three prompts from the first sudo, none from the second: refused before the TOTP prompt.
    assert res.stderr.count("Verification code") == 3, res.stderr
    assert "Consecutive login failures for user adm-carol" in journal_since(target, "/tmp/cursor-carol", "faillock")
    # A mere account check (su, cron, a key-only login) does not reset the count.
    target.run_expect([0], "su - adm-carol -c true")
    assert len(re.findall(r"\sV\s*$", target.check_output("faillock --user adm-carol"), re.M)) >= 3
    target.run_expect([0], "faillock --user adm-carol --reset")


def test_service_account_has_no_login_and_reads_weights_read_only(target):
    svc = target.user("svc-inference")
    assert svc.shell == "/usr/sbin/nologin"
    assert {"video", "ai-weights"} <= set(svc.groups)
    assert target.check_output("getent shadow svc-inference | cut -d: -f2").startswith("!")
    assert target.run("runuser -u svc-inference -- cat /srv/models/model.bin").stdout == "weights"
    assert target.run("runuser -u svc-inference -- touch /srv/models/new").rc != 0


def test_breakglass_never_logs_in_over_ssh(target, ssh, client):
    pub = client.check_output("ssh-keygen -y -f /root/keys/breakglass")
    target.run_expect([0], "printf '%%s\\n' %s > %s/breakglass", pub, KEYDIR)
    save_cursor(target, "/tmp/cursor-bg")
    try:
        res = ssh("breakglass", key="breakglass")
        assert res.rc == 255 and DENIED in res.stderr
        assert "listed in DenyUsers" in journal_since(target, "/tmp/cursor-bg", "breakglass")
        res = ssh("breakglass", answer="Correct-Horse-Battery-9",
                  options=("-o", "PreferredAuthentications=password,keyboard-interactive"))
        assert res.rc == 255
    finally:
        target.run_expect([0], "rm -f %s/breakglass", KEYDIR)


def test_breakglass_console_use_works_and_raises_an_alert(target):
    save_cursor(target, "/tmp/cursor-bg2")
    res = target.run("su - breakglass -c 'echo Correct-Horse-Battery-9 | sudo -S -k id -u'")
    assert res.rc == 0 and res.stdout.strip() == "0", res.stderr
    alerts = journal_since(target, "/tmp/cursor-bg2", "aisec-breakglass")
    assert "BREAK-GLASS account breakglass session open_session" in alerts


def test_departed_and_absent_users_are_gone(target, ssh):
    assert not target.user("op-gone").exists
    assert not target.user("old-user").exists
    assert sorted(target.check_output("ls %s", KEYDIR).split()) == ["adm-alice", "adm-carol", "autom", "op-bob"]
    assert ssh("op-gone", key="op-gone").rc == 255


def test_secrets_stay_out_of_logs_and_homes(target):
    assert target.run("journalctl --no-pager | grep -c -e %s -e %s", ALICE_TOTP, CAROL_TOTP).stdout.strip() == "0"
    secret = target.file("/var/lib/aisec-access/totp/adm-alice")
    assert secret.user == "root" and secret.mode in (0o400, 0o600)
    assert target.file("/var/lib/aisec-access/totp").mode == 0o700


def test_preflight_refuses_to_drop_the_connecting_user(target, run_role):
    before = target.check_output("sha256sum %s %s/* /etc/sudoers.d/10-aisec-access", DROPIN, KEYDIR)
    proc = run_role({"test_drop_users": ["autom"]}, tags="AISEC-ACCESS-05")
    assert proc.returncode != 0
    assert "Lockout guard" in proc.stdout and "'autom' is not a present user" in proc.stdout, proc.stdout[-3000:]
    assert re.search(r"changed=0\s", proc.stdout)
    assert target.check_output("sha256sum %s %s/* /etc/sudoers.d/10-aisec-access", DROPIN, KEYDIR) == before


def test_failed_new_login_restores_the_previous_configuration(target, ssh, run_role):
    """A change the pre-flight cannot see (the automation key limited to a network the controller
    is not in) locks the controller out; the rollback timer restores the previous configuration."""
    before = target.file(KEYDIR + "/autom").content_string
    save_cursor(target, "/tmp/cursor-rollback")
    # Only the SSH control (--tags), so the guarded section is short and the timer can be too.
    proc = run_role({"access_automation_source_cidrs": ["192.0.2.0/24"],
                     "access_rollback_timeout": 40, "access_connection_test_timeout": 10}, tags="AISEC-ACCESS-05")
    assert proc.returncode != 0
    assert "Lockout protection: a new SSH login as 'autom'" in proc.stdout, proc.stdout[-3000:]
    assert target.file(KEYDIR + "/autom").content_string == before
    assert "restored the access configuration" in journal_since(target, "/tmp/cursor-rollback", "aisec-access")
    res = ssh("autom", "sudo -n id -u", key="autom")
    assert res.rc == 0 and res.stdout.strip() == "0"

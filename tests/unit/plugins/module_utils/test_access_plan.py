# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired state, plan and checks of the access role (plugins/module_utils/access_plan.py).

The hostile-value table feeds every variable that reaches sudoers, sshd, PAM or a script the characters that
would break out of its field (newline, quote, comment, percent, backslash, brace, semicolon, NUL) and asserts a
refusal that names the variable: the reproductions of the penetration test (issue #13) are among them."""
from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_plan as ap
from ansible_collections.aisec.gpu_host.plugins.module_utils import access_state

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
with open(os.path.join(ROOT, "roles", "access", "defaults", "main.yml"), encoding="utf-8") as _handle:
    DEFAULTS = yaml.safe_load(_handle)

SK_KEY = ("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFWq9BgO58hqbXF2bUYC4UCnUmtOPq4UQ6"
          "xxD44Cmy8OAAAABHNzaDo= alice@paw")
ED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDq9cuxjUtYIXYXjTwR43KfRTvgEjzwZhuKBBtZUcTlG op@laptop"
USERS = [
    {"name": "adm-alice", "role": "admin", "comment": "Alice (SRE, on call)", "ssh_keys": [SK_KEY],
     "totp_secret": "WDTKMAYP4I7OMS6H3FRNOEZR5RVA3FHR"},
    {"name": "op-bob", "role": "operator", "comment": "Bob", "ssh_keys": [ED_KEY]},
    {"name": "autom", "role": "automation", "comment": "Ansible", "ssh_keys": [ED_KEY]},
    {"name": "old-user", "state": "absent"},
]


def variables(**overrides):
    v = copy.deepcopy(DEFAULTS)
    v.update(access_users=copy.deepcopy(USERS), access_automation_source_cidrs=["10.0.0.0/24"])
    v.update(overrides)
    return v


def errors(**overrides):
    return ap.desired(variables(**overrides))["errors"]


def test_valid_input_has_no_errors():
    assert errors() == []


HOSTILE = ["x\ny", 'x"y', "x#y", "x%y", "x\\y", "x}y", "x;y", "x\0y", "x y", "x\ty", "x'y", "x$y"]
# Variables written into a configuration file or script, with a valid value to embed the hostile character in.
SCALARS = {
    "access_sudo_logfile": "/var/log/sudo.log",
    "access_sudo_iolog_dir": "/var/log/sudo-io",
    "access_ssh_authorized_keys_dir": "/etc/ssh/authorized_keys",
    "access_totp_secret_dir": "/var/lib/aisec-access/totp",
    "access_u2f_authfile": "/etc/u2f_mappings",
    "access_service_home": "/var/lib/svc-inference",
    "access_weights_dir": "/srv/models",
    "access_faillock_dir": "/run/faillock",
    "access_user_shell": "/bin/bash",
    "access_ssh_max_startups": "10:30:60",
    "access_breakglass_alert_priority": "authpriv.alert",
    "access_ssh_dropin": "10-aisec-access.conf",
    "access_u2f_origin": "pam://gpu-node-1",
    "access_admin_group": "ai-admins",
    "access_operator_group": "ai-operators",
    "access_automation_group": "ai-automation",
    "access_breakglass_user": "breakglass",
    "access_service_user": "svc-inference",
    "access_breakglass_password_hash": "$6$aisecTestSalt01$eaD9syNaUvGjc7mVoTrLQn6e9HcZJ1crlSbUwlR.m41Gf",
}
LISTS = ("access_ssh_kex_algorithms", "access_ssh_ciphers", "access_ssh_macs", "access_ssh_host_key_algorithms",
         "access_ssh_pubkey_algorithms", "access_ssh_admin_pubkey_algorithms", "access_operator_services",
         "access_breakglass_ttys", "access_service_extra_groups", "access_operator_allow_escape_commands")


@pytest.mark.parametrize("bad", HOSTILE, ids=repr)
@pytest.mark.parametrize("name", sorted(SCALARS))
def test_every_scalar_refuses_hostile_characters(name, bad):
    if name == "access_breakglass_password_hash" and bad == "x$y":
        pytest.skip("'$' separates the fields of a crypt(3) hash (which only reaches /etc/shadow through the user module)")
    valid = SCALARS[name]
    value = valid[:3] + bad + valid[3:]
    found = errors(**{name: value})
    assert found and any(name in e or name.replace("access_", "").replace("_group", "") in e for e in found), found


@pytest.mark.parametrize("bad", HOSTILE, ids=repr)
@pytest.mark.parametrize("name", LISTS)
def test_every_list_item_refuses_hostile_characters(name, bad):
    valid = DEFAULTS[name][0] if DEFAULTS.get(name) else {"access_operator_services": "vllm.service",
                                                          "access_service_extra_groups": "render",
                                                          "access_operator_allow_escape_commands": "/usr/bin/vim"}[name]
    assert errors(**{name: [valid[:2] + bad + valid[2:]]}), name


@pytest.mark.parametrize("bad", ["x\ny", "x:y", "x\0y"], ids=repr)
def test_user_comments_refuse_newlines_colons_and_nul(bad):
    users = copy.deepcopy(USERS)
    users[1]["comment"] = "Bob " + bad
    assert any("op-bob" in e and "comment" in e for e in errors(access_users=users))


def test_penetration_test_reproductions_are_refused():
    # finding 1: a sudoers line injected through the log file, an sshd Match block through MaxStartups
    assert any("access_sudo_logfile" in e for e in errors(
        access_sudo_logfile="/var/log/sudo.log\"\nop-test ALL=(ALL:ALL) NOPASSWD: ALL\n#"))
    assert any("access_ssh_max_startups" in e for e in errors(
        access_ssh_max_startups="10:30:60\nMatch Group ai-operators\n AllowTcpForwarding yes\n PermitOpen any\nMatch all"))
    assert any("access_breakglass_alert_priority" in e for e in errors(
        access_breakglass_alert_priority="authpriv.alert'; touch /tmp/pwned; '"))
    assert any("access_ssh_dropin" in e for e in errors(access_ssh_dropin="../../tmp/x.conf"))
    assert any("access_ssh_authorized_keys_dir" in e for e in errors(access_ssh_authorized_keys_dir="/etc/ssh/k' /etc '"))


@pytest.mark.parametrize("command, expected", [
    ("/usr/bin/nvidia-smi", '/usr/bin/nvidia-smi ""'),
    ("/usr/bin/nvidia-smi -q", "/usr/bin/nvidia-smi -q"),
    ("/usr/bin/dcgmi discovery -l", "/usr/bin/dcgmi discovery -l"),
])
def test_operator_commands_get_fixed_arguments(command, expected):
    assert ap.operator_command(command) == (expected, None)


@pytest.mark.parametrize("command", [
    "/usr/bin/tee ^.+$", "/usr/bin/python3 #--version", "/usr/bin/tee /etc/sudoers.d/zz", "/usr/bin/tee",
    "/usr/bin/nvidia-smi *", "/usr/bin/nvidia-smi -q,ALL", "/usr/bin/nvidia-smi a:b", "/usr/bin/nvidia-smi a=b",
    '/usr/bin/nvidia-smi ""', "/usr/bin/nvidia-smi !x", "/usr/bin/nvidia-smi a\\b", "nvidia-smi", "/usr/bin/vim",
    "/usr/bin/less /var/log/syslog", "/bin/sh -c id", "/usr/bin/docker ps", "/usr/bin/python3.11 -V",
    "/usr/bin/nvidia-smi  -q", "/usr/bin/../bin/sh", "/usr/bin/nvidia-smi\n%ai-operators ALL=(ALL) ALL",
])
def test_dangerous_operator_commands_are_refused(command):
    text, reason = ap.operator_command(command)
    assert text is None and reason


def test_escape_programs_need_an_explicit_opt_in():
    assert ap.operator_command("/usr/bin/less /var/log/vllm.log", ["/usr/bin/less"]) == (
        "/usr/bin/less /var/log/vllm.log", None)
    d = ap.desired(variables(access_operator_extra_commands=["/usr/bin/nvidia-smi"]))
    assert '/usr/bin/nvidia-smi ""' in d["operator_commands"]


@pytest.mark.parametrize("line", [
    "AllowGroups mallory", "AllowUsers mallory", "DenyGroups x", "AuthorizedKeysCommand /usr/bin/evil",
    "AuthorizedKeysCommandUser root", "AuthorizedPrincipalsFile /x", "TrustedUserCAKeys /x", "Match Group x",
    "Include /tmp/x.conf", "PermitRootLogin yes", "PasswordAuthentication yes", "AllowTcpForwarding yes",
    "PermitOpen any", "Subsystem x /bin/sh", "ForceCommand /bin/sh", "allowgroups mallory",
    "Banner /etc/issue.net\nAllowGroups mallory", "Banner", "Banner\t",
])
def test_extra_sshd_lines_cannot_widen_access(line):
    assert any("access_ssh_extra_config" in e for e in errors(access_ssh_extra_config=[line])), line


def test_harmless_extra_sshd_lines_pass():
    assert errors(access_ssh_extra_config=["Banner /etc/issue.net", "MaxSessions 4"]) == []


def test_key_checks():
    users = copy.deepcopy(USERS)
    users[0]["ssh_keys"] = [ED_KEY]
    assert any("FIDO2" in e for e in errors(access_users=users))
    users[0]["ssh_keys"] = ['command="/bin/sh" ' + SK_KEY]
    assert any("key #1" in e for e in errors(access_users=users))
    users[0]["ssh_keys"] = [SK_KEY + "\nssh-ed25519 AAAA evil"]
    assert any("key #1" in e for e in errors(access_users=users))


def test_totp_digest_is_the_same_on_both_sides():
    d = ap.desired(variables(access_sudo_mfa="totp"))
    secret_file = "WDTKMAYP4I7OMS6H3FRNOEZR5RVA3FHR\n" + "\n".join(d["totp_options"]) + "\n"
    # pam_google_authenticator appends state to these lines; the digest ignores it
    with_state = secret_file.replace('" RATE_LIMIT 3 30', '" RATE_LIMIT 3 30 1700000000').replace(
        '" DISALLOW_REUSE', '" DISALLOW_REUSE 56666666')
    assert access_state.totp_digest(with_state) == d["totp_digests"]["adm-alice"]


def info(**overrides):
    """A converged host as access_info reports it, minimal."""
    base = {
        "passwd": {"root": {"uid": 0, "gid": 0, "gecos": "root", "home": "/root", "shell": "/bin/bash"}},
        "groups": {}, "shadow": {}, "homes": {}, "files": {}, "contents": {}, "directories": {}, "packages": {},
        "pam_modules": [], "totp": {}, "sudoers_dropins": {},
    }
    base.update(overrides)
    return base


def test_foreign_sudoers_dropins_are_reported():
    d = ap.desired(variables())
    p = ap.plan(info(sudoers_dropins={
        "10-aisec-access": {"sha256": "x", "rules": True, "lines": []},
        "README": {"sha256": "y", "rules": False, "lines": []},
        "zz": {"sha256": "z", "rules": True, "lines": ["op-test ALL=(ALL) NOPASSWD: ALL"]},
        "kept": {"sha256": "k", "rules": True, "lines": ["x ALL=(ALL) ALL"]}}), d, {}, "autom", False,
        variables(access_sudo_allowed_dropins=["kept"]))
    assert p["foreign_sudoers"] == [{"path": "/etc/sudoers.d/zz", "lines": ["op-test ALL=(ALL) NOPASSWD: ALL"],
                                     "error": None}]


def test_homes_and_dotfiles_are_closed():
    d = ap.desired(variables())
    homes = {"op-bob": {"path": "/home/op-bob", "exists": True, "mode": "0755", "owner_uid": 1001,
                        "writable_dotfiles": [{"name": ".bashrc", "mode": "0666"}]},
             "adm-alice": {"path": "/home/adm-alice", "exists": True, "mode": "0750", "owner_uid": 1000,
                           "writable_dotfiles": []}}
    p = ap.plan(info(homes=homes), d, {}, "autom", False, variables())
    assert p["home_fixes"] == [{"path": "/home/op-bob", "mode": "0750", "user": "op-bob"}]
    assert p["dotfile_fixes"] == [{"path": "/home/op-bob/.bashrc", "mode": "0644"}]
    assert p["drift"]["AISEC-ACCESS-01"]


def test_departed_users_and_lock_mode():
    d = ap.desired(variables())
    passwd = {"op-gone": {"uid": 1010, "gid": 1010, "gecos": "", "home": "/home/op-gone", "shell": "/bin/bash"},
              "old-user": {"uid": 1011, "gid": 1011, "gecos": "", "home": "/home/old-user", "shell": "/bin/bash"},
              "daemon2": {"uid": 120, "gid": 120, "gecos": "", "home": "/", "shell": "/usr/sbin/nologin"},
              "autom": {"uid": 1012, "gid": 1012, "gecos": "", "home": "/home/autom", "shell": "/bin/bash"}}
    groups = {"ai-operators": {"gid": 990, "members": ["op-gone", "daemon2", "autom"]},
              "docker": {"gid": 5, "members": ["op-gone"]}}
    p = ap.plan(info(passwd=passwd, groups=groups), d, {}, "someone", False, variables(access_prune_action="lock"))
    actions = {x["name"]: x["action"] for x in p["departed"]}
    assert actions == {"op-gone": "lock", "old-user": "remove", "daemon2": "strip"}
    assert [x["groups"] for x in p["departed"] if x["name"] == "op-gone"] == [["docker"]]


def sshd_lines(**changes):
    t = {"permitrootlogin": "no", "passwordauthentication": "no", "permitemptypasswords": "no",
         "x11forwarding": "no", "pubkeyauthentication": "yes", "authorizedkeysfile": "/etc/ssh/authorized_keys/%u",
         "authorizedkeyscommand": "none", "authorizedprincipalsfile": "none", "trustedusercakeys": "none",
         "permittunnel": "no", "gatewayports": "no", "allowtcpforwarding": "no", "allowagentforwarding": "no",
         "authenticationmethods": "publickey", "kbdinteractiveauthentication": "no"}
    t.update(changes)
    lines = ["%s %s" % kv for kv in t.items()]
    return lines + ["allowgroups ai-admins", "allowgroups ai-operators", "allowgroups ai-automation",
                    "denyusers root", "denyusers breakglass", "denyusers svc-inference"]


def test_checks_require_allowgroups_to_be_exactly_the_roles():
    d = ap.desired(variables())
    ok = {"sshd": {"op-bob": {"lines": sshd_lines(), "error": None}}}
    assert ap.checks(ok, d, variables()) == []
    widened = {"sshd": {"op-bob": {"lines": sshd_lines() + ["allowgroups mallory"], "error": None}}}
    assert any("AllowGroups" in f for f in ap.checks(widened, d, variables()))
    command = {"sshd": {"op-bob": {"lines": sshd_lines(authorizedkeyscommand="/usr/bin/evil"), "error": None}}}
    assert any("authorizedkeyscommand" in f for f in ap.checks(command, d, variables()))
    users = {"sshd": {"op-bob": {"lines": sshd_lines() + ["allowusers mallory"], "error": None}}}
    assert any("AllowUsers" in f for f in ap.checks(users, d, variables()))
    assert ap.check_users(d) == ["adm-alice", "op-bob", "autom"]


def test_login_guard():
    d = ap.desired(variables())
    v = variables()
    assert ap.login(d, v, "autom", "ssh", [ED_KEY + "\n"]) == []
    assert ap.login(d, v, "op-bob", "ssh", []) and ap.login(d, v, "root", "ssh", [])
    assert "'stranger' is not a present user" in ap.login(d, v, "stranger", "ssh", [])[0]
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFxvq8N5vDk0J8wKkpn8Pq8u5c8m0lM2i7bTn6k3x4Zm old@key"
    assert "none of the 1 keys" in ap.login(d, v, "autom", "ssh", [other])[0]
    assert ap.login(d, v, "stranger", "community.docker.docker", []) == []

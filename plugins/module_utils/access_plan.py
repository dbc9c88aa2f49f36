# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired state and plan of the aisec.gpu_host.access role (controller side, pure functions).

``desired(variables)`` validates every ``access_*`` variable with a strict full-string pattern for its own field
(every value that reaches sudoers, sshd, PAM or a script; ``re.fullmatch``, no control characters) and derives
what the templates write: accounts and groups, the operators' sudo commands, the sshd settings, the PAM
second-factor lines, the managed files (``files``: path, template or content, owner, group, mode, control) and
the request of the ``access_info`` module.

``plan(info, desired, rendered, login_user, check_mode)`` compares that with what ``access_info`` read: which
packages, groups, accounts, homes, files, TOTP secrets, PAM profiles and PAM lines differ, which users departed,
which sudoers drop-ins the role does not own, and whether anything under the lockout guard changes.

``checks(info, desired)`` turns the post-change reading (``sshd -T`` per user class, ``visudo -c``, a new TCP
connection to sshd) into failures: the effective sshd configuration must equal what the role writes, for every
managed user class, and AllowGroups/AllowUsers must be exactly the role's.

``login(desired, login_user, current_keys)`` is the lockout pre-flight for the account the play connects as.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_state
from ansible_collections.aisec.gpu_host.plugins.module_utils import role_plan as rp

ROLES = ("admin", "operator", "automation")
RESERVED_GROUPS = ("root", "sudo", "adm", "wheel", "shadow", "disk", "docker", "lxd", "kvm", "staff")
# Key types and the base64 prefix of the wire-format type name each key blob must start with (ssh-dss refused).
KEY_PREFIXES = {
    "ssh-ed25519": "AAAAC3NzaC1lZDI1NTE5",
    "sk-ssh-ed25519@openssh.com": "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t",
    "sk-ecdsa-sha2-nistp256@openssh.com": "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5j",
    "ecdsa-sha2-nistp256": "AAAAE2VjZHNhLXNoYTItbmlzdHAy",
    "ecdsa-sha2-nistp384": "AAAAE2VjZHNhLXNoYTItbmlzdHAz",
    "ecdsa-sha2-nistp521": "AAAAE2VjZHNhLXNoYTItbmlzdHA1",
    "ssh-rsa": "AAAAB3NzaC1y",
}
SK_KEY_TYPES = ("sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
KEY_RE = re.compile(r"([a-z0-9@.-]+) +(AAAA[0-9A-Za-z+/]+={0,3})( +[\x20-\x7e]*)?")
AUTHKEYS_BLOB_RE = re.compile(r"(?m)^(?![ \t]*#).*?(?:ssh|sk|ecdsa)-[a-z0-9@.-]+ +(AAAA[0-9A-Za-z+/]+={0,3})")
TOTP_RE = re.compile(r"[A-Z2-7]{16,128}")
# pamu2fcfg output without the "user:" prefix: KeyHandle,UserKey,CoseType,Options, several joined by ":".
U2F_RE = re.compile(r"[A-Za-z0-9+/=_-]+,[A-Za-z0-9+/=_-]+,[a-z0-9]+,[+a-z]*(:[A-Za-z0-9+/=_-]+,[A-Za-z0-9+/=_-]+,"
                    r"[a-z0-9]+,[+a-z]*)*")
U2F_ORIGIN_RE = re.compile(r"(pam|https)://[A-Za-z0-9.-]{1,253}")
CRYPT_RE = re.compile(r"\$(y|gy|7|6|5|2b)\$[A-Za-z0-9./$=,+-]{8,512}")
GECOS_RE = re.compile(r"[^:\x00-\x1f\x7f]{0,256}")
SSH_ALGO_RE = re.compile(r"[A-Za-z0-9@.+-]{1,100}")
SSH_DROPIN_RE = re.compile(r"[0-9]{2}-[a-z0-9][a-z0-9-]{0,40}\.conf")
MAX_STARTUPS_RE = re.compile(r"[0-9]{1,4}(:[0-9]{1,3}:[0-9]{1,4})?")
SSHD_LINE_RE = re.compile(r"([A-Za-z][A-Za-z0-9]{1,40})[ \t]+([\x21-\x7e][\x20-\x7e]{0,500})")
# sshd keywords an extra line may not set: they widen who logs in or how (AllowGroups and DenyUsers accumulate
# across lines, AuthorizedKeysCommand etc. are not set by the role), or start a conditional block.
SSHD_REFUSED_RE = re.compile(r"(?i)(allow|deny)(users|groups)|authorizedkeys.*|authorizedprincipals.*|"
                             r"trustedusercakeys|revokedkeys|match|include|hostbasedauthentication|"
                             r"hostbasedacceptedalgorithms|permitrootlogin|passwordauthentication|"
                             r"permitemptypasswords|kbdinteractiveauthentication|challengeresponseauthentication|"
                             r"authenticationmethods|pubkeyaccepted.*|usepam|permituserenvironment|"
                             r"setenv|acceptenv|forcecommand|chrootdirectory|permitopen|permitlisten|gatewayports|"
                             r"allowtcpforwarding|allowagentforwarding|allowstreamlocalforwarding|permittunnel|"
                             r"x11forwarding|subsystem|strictmodes|ignorerhosts|securitykeyprovider")
# An operator command: an absolute program and fixed arguments of plain characters. sudo would otherwise read
# "," ":" "=" "\" as syntax, "^...$" as a regular expression, "*?[" as wildcards, "#" as a comment, '""' as "no
# arguments" and "!" as negation; none of them may appear.
COMMAND_PATH_RE = re.compile(r"/[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*")
COMMAND_ARG_RE = re.compile(r"[A-Za-z0-9_./+@%-]{1,200}")
# Programs that give a shell, write or copy arbitrary files, or run other programs: with sudo they are root.
ESCAPE_PROGRAMS = frozenset("""
sh bash dash zsh ksh mksh csh tcsh fish ash busybox rbash env nice ionice nohup timeout stdbuf setsid xargs find
awk gawk mawk nawk sed perl python python2 python3 ruby irb lua luajit php node nodejs tclsh wish expect
vi vim vim.basic vim.tiny view rvim nvim nano rnano ed red ex emacs pico joe mcedit less more most pg man
tee dd cp mv install rsync tar cpio zip unzip gzip gunzip bzip2 xz zstd 7z script ssh scp sftp ftp tftp telnet nc
ncat netcat socat curl wget git make cmake gcc cc gdb strace ltrace valgrind docker podman ctr nerdctl crictl
kubectl helm systemd-run systemd-nspawn machinectl chroot unshare nsenter capsh su sudo sudoedit doas pkexec
crontab at batch mount umount chmod chown chgrp ln rm truncate shred cat head tail sort uniq diff cmp cut od xxd
hexdump base64 openssl nmap tcpdump iptables ip6tables nft ip apt apt-get aptitude dpkg snap pip pip3 npm
npx gem cargo go java jjs jrunscript dmesg journalctl-shell watch screen tmux byobu loginctl systemctl-edit
""".split())
# Commands the role itself gives operators with arguments it fixes: systemctl and journalctl for the listed
# services are allowed as extra commands too (with their own fixed arguments).
JOURNAL_ARGS_RE = (r"( (-f|-e|-r|-n [0-9]{1,6}|-o (short|short-iso|json|cat)|--since [0-9T\:-]{1,25}"
                   r"|--until [0-9T\:-]{1,25}))*$")
PROTECTED_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
                  "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/etc/ssh", "/etc/pam.d",
                  "/etc/security", "/etc/sudoers.d", "/var/lib", "/var/log", "/usr/lib", "/usr/local",
                  "/usr/share", "/usr/bin", "/usr/sbin")
SSH_CONNECTION_TYPES = ("ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                        "ansible.builtin.paramiko_ssh", "ansible.legacy.ssh", "ansible.legacy.paramiko_ssh",
                        "ansible.netcommon.libssh")

PAM_PROFILE_DIR = "/usr/share/pam-configs"
PAM_STACKS = ("/etc/pam.d/common-auth", "/etc/pam.d/common-account", "/etc/pam.d/common-session")
LIBEXEC = "/usr/local/libexec/aisec-access"
SUDOERS_FILE = "/etc/sudoers.d/10-aisec-access"
SUDOERS_DIR = "/etc/sudoers.d"
BREAKGLASS_ACCESS_FILE = "/etc/security/aisec-breakglass-access.conf"
FAILLOCK_CONF = "/etc/security/faillock.conf"
FAILLOCK_TMPFILES = "/etc/tmpfiles.d/aisec-faillock.conf"
SSHD_DROPIN_DIR = "/etc/ssh/sshd_config.d"
SSHD_SERVICE = "ssh.service"
SU_PAM = "/etc/pam.d/su"


class AccessInputError(Exception):
    pass


def _path_error(label, value, allow_empty=False):
    if allow_empty and value == "":
        return None
    if not rp.abs_path_ok(value):
        return ("%s must be an absolute path of plain characters ([A-Za-z0-9._+@-] between slashes, no '..'), got %s"
                % (label, rp.show(value)))
    if value.rstrip("/") in PROTECTED_DIRS or value.count("/") < 2:
        return "%s must not be a system directory (got %s)" % (label, value)
    return None


def operator_command(command, allowed_escape=()):
    """``(sudoers text, None)`` for a valid operator command, else ``(None, reason)``.

    ``/usr/bin/nvidia-smi`` (no arguments) becomes ``/usr/bin/nvidia-smi ""``: sudo then allows it only without
    arguments; every argument is fixed."""
    if not isinstance(command, str):
        return None, "%s is not a string" % rp.show(command)
    words = command.split(" ")
    path, args = words[0], words[1:]
    if not rp.matches(COMMAND_PATH_RE, path) or "/../" in path + "/" or "/./" in path + "/":
        return None, "%s must start with an absolute program path" % rp.show(command)
    if any(not rp.matches(COMMAND_ARG_RE, a) for a in args):
        return None, ("%s: arguments must be fixed words of [A-Za-z0-9_./+@%%-] separated by single spaces (no "
                      "wildcards, regular expressions, quotes, '#', '!', '\\', ',', ':' or '='); a command without "
                      "arguments is allowed only without them" % rp.show(command))
    base = os.path.basename(path)
    if (base in ESCAPE_PROGRAMS or base.startswith(("python", "perl", "ruby", "php", "lua", "node"))) \
            and path not in allowed_escape:
        return None, ("%s runs %s, which can start a shell or write any file as root; list %s in "
                      "access_operator_allow_escape_commands only if you accept that" % (rp.show(command), base, path))
    return (path + ' ""') if not args else command, None


def _users(v, errors):
    users = []
    names = []
    raw = v.get("access_users") or []
    if not isinstance(raw, list):
        errors.append("access_users must be a list")
        raw = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            errors.append("access_users[%d] must be a mapping" % index)
            continue
        u = {"state": "present", "ssh_keys": [], "comment": "", "shell": v.get("access_user_shell")}
        u.update(entry)
        name = u.get("name")
        where = "access_users: %s" % rp.show(name)
        if not rp.matches(rp.NAME_RE, name):
            errors.append('%s is not a valid user name ([a-z_][a-z0-9_-]{0,31})' % where)
            continue
        if name in names:
            errors.append("%s is listed more than once" % where)
        names.append(name)
        if name in ("root", v.get("access_breakglass_user"), v.get("access_service_user")):
            errors.append("%s is reserved (root, the break-glass or the service account)" % where)
        if u["state"] not in ("present", "absent"):
            errors.append("%s: state must be present or absent" % where)
        elif u["state"] == "present" and u.get("role") not in ROLES:
            errors.append("%s: role must be admin, operator or automation" % where)
        if not rp.matches(GECOS_RE, u.get("comment")):
            errors.append("%s: comment must be one line without ':' or control characters" % where)
        if not rp.abs_path_ok(u.get("shell")):
            errors.append("%s: shell must be an absolute path of plain characters" % where)
        if "uid" in u and not rp.int_in(u["uid"], 1000, 60000):
            errors.append("%s: uid must be 1000-60000" % where)
        if "totp_secret" in u and not rp.matches(TOTP_RE, str(u["totp_secret"])):
            errors.append("%s: totp_secret must be base32 (A-Z, 2-7), 16 to 128 characters" % where)
        if "u2f_mapping" in u and not rp.matches(U2F_RE, u["u2f_mapping"]):
            errors.append('%s: u2f_mapping must be one line of pamu2fcfg output without the "user:" prefix' % where)
        if not isinstance(u.get("ssh_keys"), list):
            errors.append("%s: ssh_keys must be a list" % where)
            u["ssh_keys"] = []
        u["ssh_keys"] = [str(k).strip() if isinstance(k, str) else k for k in u["ssh_keys"]]
        users.append(u)
    return users


def _key_errors(present, ssh_mfa):
    errors = []
    for u in present:
        if u.get("role") == "admin" and not u["ssh_keys"]:
            errors.append("%s: an administrator needs at least one SSH key" % u["name"])
        for index, key in enumerate(u["ssh_keys"], 1):
            match = KEY_RE.fullmatch(key) if isinstance(key, str) else None
            if not match:
                errors.append('%s: key #%d is not "<type> <base64> [comment]" on one line (no key options; the '
                              "role adds them)" % (u["name"], index))
            elif match.group(1) not in KEY_PREFIXES:
                errors.append("%s: key #%d has the unsupported type %s" % (u["name"], index, match.group(1)))
            elif not match.group(2).startswith(KEY_PREFIXES[match.group(1)]):
                errors.append("%s: key #%d is malformed (its data is not a %s key)" % (u["name"], index,
                                                                                       match.group(1)))
            elif u.get("role") == "admin" and ssh_mfa == "fido2" and match.group(1) not in SK_KEY_TYPES:
                errors.append("%s: key #%d is %s; with access_ssh_mfa=fido2 administrators need FIDO2 security-key "
                              "keys (%s)" % (u["name"], index, match.group(1), ", ".join(SK_KEY_TYPES)))
    return errors


def _scalar_errors(v):
    errors = []
    for label in ("access_ssh_authorized_keys_dir", "access_totp_secret_dir", "access_sudo_iolog_dir",
                  "access_service_home", "access_weights_dir", "access_u2f_authfile", "access_faillock_dir"):
        err = _path_error(label, v.get(label))
        if err:
            errors.append(err)
    err = _path_error("access_sudo_logfile", v.get("access_sudo_logfile"), allow_empty=True)
    if err:
        errors.append(err)
    if not rp.abs_path_ok(v.get("access_user_shell")):
        errors.append("access_user_shell must be an absolute path of plain characters")
    if not rp.matches(SSH_DROPIN_RE, v.get("access_ssh_dropin")):
        errors.append("access_ssh_dropin must be a file name like 10-aisec-access.conf (two digits, a dash, "
                      "[a-z0-9-], .conf), got %s" % rp.show(v.get("access_ssh_dropin")))
    if not rp.matches(MAX_STARTUPS_RE, v.get("access_ssh_max_startups")):
        errors.append('access_ssh_max_startups must be "N" or "start:rate:full" (e.g. 10:30:60), got %s'
                      % rp.show(v.get("access_ssh_max_startups")))
    for label in ("access_ssh_kex_algorithms", "access_ssh_ciphers", "access_ssh_macs",
                  "access_ssh_host_key_algorithms", "access_ssh_pubkey_algorithms",
                  "access_ssh_admin_pubkey_algorithms"):
        value = v.get(label)
        if not isinstance(value, list) or not value or not all(rp.matches(SSH_ALGO_RE, a) for a in value):
            errors.append("%s must be a non-empty list of algorithm names ([A-Za-z0-9@.+-]), got %s"
                          % (label, rp.show(value)))
    if not rp.matches(rp.SYSLOG_PRIORITY_RE, v.get("access_breakglass_alert_priority")):
        errors.append("access_breakglass_alert_priority must be facility.level (e.g. authpriv.alert), got %s"
                      % rp.show(v.get("access_breakglass_alert_priority")))
    origin = v.get("access_u2f_origin")
    if origin and not rp.matches(U2F_ORIGIN_RE, origin):
        errors.append("access_u2f_origin must be empty or pam://<host> / https://<host>, got %s" % rp.show(origin))
    hash_ = v.get("access_breakglass_password_hash")
    if hash_ and not rp.matches(CRYPT_RE, hash_):
        errors.append("access_breakglass_password_hash must be a crypt(3) hash ($y$, $6$, ...), not a clear-text "
                      "password")
    ranges = (("access_ssh_max_auth_tries", 1, 10), ("access_ssh_login_grace_time", 1, 600),
              ("access_ssh_client_alive_interval", 0, 3600), ("access_ssh_client_alive_count_max", 0, 10),
              ("access_sudo_timestamp_timeout", 0, 60), ("access_sudo_passwd_tries", 1, 10),
              ("access_totp_window_size", 1, 21), ("access_totp_rate_limit_attempts", 1, 100),
              ("access_totp_rate_limit_seconds", 1, 3600), ("access_faillock_deny", 1, 100),
              ("access_faillock_fail_interval", 1, 604800), ("access_faillock_unlock_time", 0, 604800),
              ("access_rollback_timeout", 40, 86400), ("access_connection_test_timeout", 5, 3600))
    for label, low, high in ranges:
        if not rp.int_in(v.get(label), low, high):
            errors.append("%s must be an integer from %d to %d, got %s" % (label, low, high, rp.show(v.get(label))))
    rollback, test = v.get("access_rollback_timeout"), v.get("access_connection_test_timeout")
    if rp.int_in(rollback, 0, 86400) and rp.int_in(test, 0, 3600):
        if rollback < test + 30:
            errors.append("access_rollback_timeout must exceed access_connection_test_timeout by at least 30 s")
    for line in v.get("access_ssh_extra_config") or []:
        match = SSHD_LINE_RE.fullmatch(line) if isinstance(line, str) else None
        if not match:
            errors.append('access_ssh_extra_config: %s must be one "Keyword value" line of printable characters'
                          % rp.show(line))
        elif SSHD_REFUSED_RE.fullmatch(match.group(1)):
            errors.append("access_ssh_extra_config: %s sets %s, which the role manages or which widens who may log "
                          "in or what they may do; it is refused" % (rp.show(line), match.group(1)))
    for label in ("access_breakglass_ttys",):
        value = v.get(label) or []
        if not isinstance(value, list) or not value or not all(
                rp.matches(re.compile(r"[a-zA-Z][a-zA-Z0-9]{0,15}"), t) for t in value):
            errors.append("%s must be a non-empty list of console terminal names (tty1, ttyS0, console, hvc0), got %s"
                          % (label, rp.show(value)))
    return errors


def desired(v):
    """Validate and derive the desired state from the role's variables (see the module docstring)."""
    errors = []
    users = _users(v, errors)
    present = [u for u in users if u["state"] == "present" and u.get("role") in ROLES]
    absent_names = [u["name"] for u in users if u["state"] == "absent"]
    admins = [u for u in present if u["role"] == "admin"]
    automation = [u for u in present if u["role"] == "automation"]
    ssh_enabled, sudo_enabled = bool(v.get("access_ssh_enabled")), bool(v.get("access_sudo_enabled"))
    ssh_mfa = v.get("access_ssh_mfa")
    sudo_mfa = v.get("access_sudo_mfa") if sudo_enabled else "none"
    totp_used = (ssh_enabled and ssh_mfa == "totp") or sudo_mfa == "totp"
    u2f_used = sudo_mfa == "u2f"
    breakglass = bool(v.get("access_breakglass_enabled"))
    service = bool(v.get("access_service_account_enabled"))
    faillock = bool(v.get("access_faillock_enabled"))
    groups = {"admin": v.get("access_admin_group"), "operator": v.get("access_operator_group"),
              "automation": v.get("access_automation_group"), "weights": v.get("access_weights_group"),
              "breakglass": v.get("access_breakglass_group"), "gpu": v.get("access_gpu_group")}
    managed = [groups["admin"], groups["operator"], groups["automation"]]

    if ssh_enabled:
        errors.extend(_key_errors(present, ssh_mfa))
    errors.extend(_scalar_errors(v))
    for a in admins:
        if totp_used and not v.get("access_totp_nullok") and "totp_secret" not in a:
            errors.append("%s: administrators need totp_secret (access_ssh_mfa or access_sudo_mfa is totp; "
                          "access_totp_nullok is false)" % a["name"])
        if u2f_used and not v.get("access_u2f_nouserok") and "u2f_mapping" not in a:
            errors.append("%s: administrators need u2f_mapping (access_sudo_mfa is u2f; access_u2f_nouserok is false)"
                          % a["name"])
    for label, name in sorted(groups.items()):
        if not rp.matches(rp.NAME_RE, name) or (name in RESERVED_GROUPS and label != "gpu"):
            errors.append('group name %s (access_%s_group) is invalid or a system group' % (rp.show(name), label))
    if len(set(managed + [groups["weights"], groups["breakglass"]])) != 5:
        errors.append("the admin, operator, automation, weights and break-glass groups must be five different groups")
    for label in ("access_breakglass_user", "access_service_user"):
        if not rp.matches(rp.NAME_RE, v.get(label)) or v.get(label) == "root":
            errors.append("%s: %s is not a valid account name" % (label, rp.show(v.get(label))))
    if v.get("access_breakglass_user") == v.get("access_service_user"):
        errors.append("the break-glass and service accounts must differ")
    for g in v.get("access_service_extra_groups") or []:
        if not rp.matches(rp.NAME_RE, g) or g in ("root", "sudo", "shadow", "disk", "docker", "adm"):
            errors.append("access_service_extra_groups: %s is invalid or a privileged group" % rp.show(g))
    cidrs = []
    for c in v.get("access_automation_source_cidrs") or []:
        try:
            if not isinstance(c, str) or c != c.strip():
                raise ValueError
            cidrs.append(str(ipaddress.ip_network(c, strict=True)))
        except ValueError:
            errors.append('access_automation_source_cidrs: %s is not an address/prefix without host bits' % rp.show(c))
    if automation and not v.get("access_automation_source_cidrs"):
        errors.append("automation accounts need access_automation_source_cidrs (their keys only work from there); "
                      "list 0.0.0.0/0 and ::/0 to allow any source explicitly")
    services = []
    for s in v.get("access_operator_services") or []:
        if not rp.matches(rp.UNIT_RE, s):
            errors.append('access_operator_services: %s is not a systemd service name (name.service)' % rp.show(s))
        else:
            services.append(s)
    allowed_escape = []
    for path in v.get("access_operator_allow_escape_commands") or []:
        if not rp.matches(COMMAND_PATH_RE, path):
            errors.append("access_operator_allow_escape_commands: %s is not an absolute program path" % rp.show(path))
        else:
            allowed_escape.append(path)
    extra_commands = []
    for c in v.get("access_operator_extra_commands") or []:
        text, reason = operator_command(c, allowed_escape)
        if reason:
            errors.append("access_operator_extra_commands: " + reason)
        else:
            extra_commands.append(text)
    if v.get("access_weights_manage_dir") is not None and not isinstance(v.get("access_weights_manage_dir"), bool):
        errors.append("access_weights_manage_dir must be a boolean")

    operator_commands = []
    for s in services:
        regex = s.replace(".", "[.]")
        operator_commands += ["/usr/bin/systemctl restart " + s, "/usr/bin/systemctl status " + s,
                              "/usr/bin/journalctl -u " + s, "/usr/bin/journalctl ^-u " + regex + JOURNAL_ARGS_RE]
    operator_commands += extra_commands

    deny_users = ["root"] + ([v.get("access_breakglass_user")] if breakglass else []) \
        + ([v.get("access_service_user")] if service else [])
    groups_wanted = managed + ([groups["weights"], groups["gpu"]] if service else []) \
        + ([groups["breakglass"]] if breakglass else [])
    service_groups = [groups["gpu"], groups["weights"]] + list(v.get("access_service_extra_groups") or [])

    # PAM: the module line of each second factor and the five-line block every factor uses (faillock pre-check,
    # factor, failure count, deny, success with count reset); the jumps count these lines. The count is reset only
    # by a successful factor, never by a mere account check.
    totp_module = "pam_google_authenticator.so secret=%s/${USER} user=root%s" % (
        v.get("access_totp_secret_dir"), " nullok" if v.get("access_totp_nullok") else "")
    origin = v.get("access_u2f_origin")
    u2f_module = "pam_u2f.so authfile=%s cue pinverification=1 userpresence=1%s%s" % (
        v.get("access_u2f_authfile"),
        (" origin=%s appid=%s" % (origin, origin)) if origin else "",
        " nouserok" if v.get("access_u2f_nouserok") else "")
    factor_lines = {}
    for name, module, may_skip in (("totp", totp_module, v.get("access_totp_nullok")),
                                   ("u2f", u2f_module, v.get("access_u2f_nouserok"))):
        factor_lines[name] = [
            "auth  " + ("requisite  pam_faillock.so preauth" if faillock else "optional  pam_permit.so"),
            "auth  [success=2 new_authtok_reqd=2 %sdefault=ignore]  %s" % ("ignore=2 " if may_skip else "", module),
            "auth  [default=die]  " + ("pam_faillock.so authfail" if faillock else "pam_deny.so"),
            "auth  requisite  pam_deny.so",
            "auth  [success=done default=die]  " + ("pam_faillock.so authsucc" if faillock else "pam_permit.so"),
        ]
    rate = (v.get("access_totp_rate_limit_attempts"), v.get("access_totp_rate_limit_seconds"))
    totp_options = ['" RATE_LIMIT %s %s' % rate,
                    '" WINDOW_SIZE %s' % v.get("access_totp_window_size")] \
        + (['" DISALLOW_REUSE'] if v.get("access_totp_disallow_reuse") else []) + ['" TOTP_AUTH']
    totp_admins = [a["name"] for a in admins if "totp_secret" in a] if totp_used else []
    totp_digests = dict(
        (a["name"], access_state.totp_digest("\n".join([str(a["totp_secret"])] + totp_options)))
        for a in admins if a["name"] in totp_admins)

    key_files = {}
    for u in present:
        if not u["ssh_keys"] or not ssh_enabled:
            continue
        lines = ["# Managed by aisec.gpu_host.access: SSH keys of %s (%s), AISEC-ACCESS-05." % (u["name"], u["role"]),
                 "# Root-owned: users cannot add keys themselves."]
        for key in u["ssh_keys"]:
            if u["role"] == "admin" and ssh_mfa == "fido2":
                lines.append("verify-required " + str(key))
            elif u["role"] == "automation":
                lines.append('from="%s",no-agent-forwarding,no-port-forwarding,no-X11-forwarding %s'
                             % (",".join(cidrs), key))
            else:
                lines.append(str(key))
        key_files[u["name"]] = "\n".join(lines) + "\n"

    keydir = v.get("access_ssh_authorized_keys_dir")
    dropin = v.get("access_ssh_dropin") or "10-aisec-access.conf"
    stem = dropin[:-len(".conf")]
    sshd_files = {
        "main": "%s/%s" % (SSHD_DROPIN_DIR, dropin),
        "mfa": "%s/%s-admin-mfa.conf" % (SSHD_DROPIN_DIR, stem),
        "breakglass": "%s/%s-breakglass.conf" % (SSHD_DROPIN_DIR, stem),
    }
    validate = LIBEXEC + "/sshd-validate %s %%s"
    files = []

    def add(path, control, wanted=True, **spec):
        spec.setdefault("owner", "root")
        spec.setdefault("group", "root")
        files.append(dict(path=path, control=control, wanted=bool(wanted), **spec))

    # Helpers outside the guarded section (AISEC-ACCESS-05 owns the lockout machinery).
    add(LIBEXEC, "AISEC-ACCESS-05", state="directory", mode="0755", guarded=False)
    add(LIBEXEC + "/sshd-validate", "AISEC-ACCESS-05", src="sshd-validate.sh.j2", mode="0755", guarded=False)
    add(LIBEXEC + "/breakglass-alert", "AISEC-ACCESS-06", breakglass, src="breakglass-alert.sh.j2", mode="0755",
        guarded=False)
    # AISEC-ACCESS-01: the service account's directories.
    add(v.get("access_service_home"), "AISEC-ACCESS-01", service, state="directory", mode="0750",
        owner=v.get("access_service_user"), group=v.get("access_service_user"), guarded=False, needs_account=True)
    add(v.get("access_weights_dir"), "AISEC-ACCESS-01", service and v.get("access_weights_manage_dir"),
        state="directory", mode="2750", group=groups["weights"], guarded=False, needs_group=groups["weights"])
    # AISEC-ACCESS-05: root-owned keys and the hardened sshd drop-in.
    add(keydir, "AISEC-ACCESS-05", ssh_enabled, state="directory", mode="0755")
    for name, text in sorted(key_files.items()):
        add("%s/%s" % (keydir, name), "AISEC-ACCESS-05", True, content=text, mode="0644", user=name)
    add(sshd_files["main"], "AISEC-ACCESS-05", ssh_enabled, src="sshd_access.conf.j2", mode="0644",
        validate=validate % dropin)
    # AISEC-ACCESS-02: administrators' second factor (sshd Match block, TOTP, U2F, PAM stacks).
    add(sshd_files["mfa"], "AISEC-ACCESS-02", ssh_enabled, src="sshd_admin_mfa.conf.j2", mode="0644",
        validate=validate % os.path.basename(sshd_files["mfa"]))
    add(v.get("access_totp_secret_dir"), "AISEC-ACCESS-02", totp_used, state="directory", mode="0700")
    add(v.get("access_u2f_authfile"), "AISEC-ACCESS-02", u2f_used, src="u2f_mappings.j2", mode="0644")
    add("/etc/pam.d/aisec-sshd-auth", "AISEC-ACCESS-02", ssh_enabled and ssh_mfa == "totp",
        src="pam-aisec-sshd-auth.j2", mode="0644")
    # AISEC-ACCESS-03: sudo.
    add("/etc/pam.d/aisec-sudo-auth", "AISEC-ACCESS-03", sudo_enabled and sudo_mfa != "none",
        src="pam-aisec-sudo-auth.j2", mode="0644")
    add(SUDOERS_FILE, "AISEC-ACCESS-03", sudo_enabled, src="sudoers.j2", mode="0440",
        validate="/usr/sbin/visudo -cf %s")
    # AISEC-ACCESS-04: pam_faillock, its root-only tally directory and pam-auth-update profiles.
    add(v.get("access_faillock_dir"), "AISEC-ACCESS-04", faillock, state="directory", mode="0700")
    add(FAILLOCK_TMPFILES, "AISEC-ACCESS-04", faillock, src="tmpfiles-faillock.conf.j2", mode="0644")
    add(FAILLOCK_CONF, "AISEC-ACCESS-04", faillock, src="faillock.conf.j2", mode="0644")
    add(PAM_PROFILE_DIR + "/aisec-faillock", "AISEC-ACCESS-04", faillock, src="pam-config-faillock.j2", mode="0644")
    add(PAM_PROFILE_DIR + "/aisec-faillock-notify", "AISEC-ACCESS-04", faillock,
        src="pam-config-faillock-notify.j2", mode="0644")
    # AISEC-ACCESS-06: break-glass console only, every session and failure alerted.
    add(sshd_files["breakglass"], "AISEC-ACCESS-06", ssh_enabled and breakglass, src="sshd_breakglass.conf.j2",
        mode="0644", validate=validate % os.path.basename(sshd_files["breakglass"]))
    add(BREAKGLASS_ACCESS_FILE, "AISEC-ACCESS-06", breakglass, src="breakglass-access.conf.j2", mode="0644")
    for profile in ("aisec-breakglass", "aisec-breakglass-fail", "aisec-breakglass-access"):
        add(PAM_PROFILE_DIR + "/" + profile, "AISEC-ACCESS-06", breakglass, src="pam-config-%s.j2" % profile[6:],
            mode="0644")

    # pam-auth-update profiles and the text that shows each one active in its common stack.
    pam_profiles = [
        {"name": "aisec-faillock", "wanted": faillock, "stack": "/etc/pam.d/common-auth",
         "marker": "pam_faillock.so authfail", "control": "AISEC-ACCESS-04"},
        {"name": "aisec-faillock-notify", "wanted": faillock, "stack": "/etc/pam.d/common-auth",
         "marker": "pam_faillock.so preauth", "control": "AISEC-ACCESS-04"},
        {"name": "aisec-breakglass", "wanted": breakglass, "stack": "/etc/pam.d/common-session",
         "marker": LIBEXEC + "/breakglass-alert", "control": "AISEC-ACCESS-06"},
        {"name": "aisec-breakglass-fail", "wanted": breakglass, "stack": "/etc/pam.d/common-auth",
         "marker": LIBEXEC + "/breakglass-alert", "control": "AISEC-ACCESS-06"},
        {"name": "aisec-breakglass-access", "wanted": breakglass, "stack": "/etc/pam.d/common-account",
         "marker": "accessfile=" + BREAKGLASS_ACCESS_FILE, "control": "AISEC-ACCESS-06"},
    ]
    pam_includes = [
        {"name": "aisec-sshd-auth", "services": ["sshd"], "managed": ssh_enabled,
         "wanted": ssh_enabled and ssh_mfa == "totp", "control": "AISEC-ACCESS-02"},
        {"name": "aisec-sudo-auth", "services": ["sudo", "sudo-i"], "managed": sudo_enabled,
         "wanted": sudo_enabled and sudo_mfa != "none", "control": "AISEC-ACCESS-03"},
    ]
    packages = ["openssh-server", "sudo", "libpam-modules", "libpam-runtime", "procps"] \
        + (["libpam-google-authenticator"] if totp_used else []) + (["libpam-u2f"] if u2f_used else [])
    pam_modules = ["pam_succeed_if.so", "pam_permit.so", "pam_deny.so", "pam_exec.so", "pam_wheel.so",
                   "pam_access.so"] + (["pam_faillock.so"] if faillock else []) \
        + (["pam_google_authenticator.so"] if totp_used else []) + (["pam_u2f.so"] if u2f_used else [])

    wanted_files = [f for f in files if f["wanted"]]
    # Everything a change in the guarded section can touch: saved before it, restored by the rollback.
    guarded_candidates = (
        [f["path"] for f in files if f.get("guarded", True) and f.get("state", "file") == "file"]
        + [keydir, "/etc/pam.d/sshd", "/etc/pam.d/sudo", "/etc/pam.d/sudo-i", SU_PAM, "/var/lib/pam"]
        + list(PAM_STACKS) + ["/etc/pam.d/common-session-noninteractive", "/etc/pam.d/common-password"]
        + [v.get("access_totp_secret_dir")])
    guarded_paths = sorted(set(p for p in guarded_candidates if p))
    accounts = [u["name"] for u in present] + ([v.get("access_service_user")] if service else []) \
        + ([v.get("access_breakglass_user")] if breakglass else [])
    paths = {"libexec": LIBEXEC, "sudoers": SUDOERS_FILE, "faillock_conf": FAILLOCK_CONF,
             "faillock_tmpfiles": FAILLOCK_TMPFILES,
             "breakglass_access": BREAKGLASS_ACCESS_FILE, "pam_profiles": PAM_PROFILE_DIR, "su": SU_PAM,
             "sshd_main": sshd_files["main"], "sshd_mfa": sshd_files["mfa"], "sshd_breakglass": sshd_files["breakglass"],
             "keydir": keydir, "totp_dir": v.get("access_totp_secret_dir"), "u2f_authfile": v.get("access_u2f_authfile"),
             "faillock_dir": v.get("access_faillock_dir"), "sshd_service": SSHD_SERVICE}
    return {
        "errors": errors,
        "paths": paths,
        "users": users,
        "present": present,
        "present_names": [u["name"] for u in present],
        "absent_names": absent_names,
        "admins": [u["name"] for u in admins],
        "automation": [u["name"] for u in automation],
        "groups": groups,
        "managed_groups": managed,
        "groups_wanted": list(dict.fromkeys(groups_wanted)),
        "service_groups": list(dict.fromkeys(service_groups)),
        "deny_users": deny_users,
        "ssh_mfa": ssh_mfa,
        "sudo_mfa": sudo_mfa,
        "totp_used": totp_used,
        "u2f_used": u2f_used,
        "operator_commands": operator_commands,
        "automation_cidrs": cidrs,
        "factor_lines": factor_lines,
        "totp_options": totp_options,
        "totp_admins": totp_admins,
        "totp_digests": totp_digests,
        "files": files,
        "templates": sorted(set(f["src"] for f in wanted_files if f.get("src"))),
        "sshd_files": sshd_files,
        "pam_profiles": pam_profiles,
        "pam_includes": pam_includes,
        "packages": packages,
        "pam_modules": pam_modules,
        "guarded_paths": guarded_paths,
        "info": {
            "accounts": accounts,
            "packages": packages,
            "files": [f["path"] for f in files if f["wanted"] or f.get("state", "file") != "directory"],
            "contents": list(PAM_STACKS) + ["/etc/pam.d/sshd", "/etc/pam.d/sudo", "/etc/pam.d/sudo-i", SU_PAM],
            "directories": [keydir, v.get("access_totp_secret_dir"), PAM_PROFILE_DIR, SSHD_DROPIN_DIR],
            "totp_dir": v.get("access_totp_secret_dir"),
            "totp_users": totp_admins,
        },
    }


def _member_of(group_db):
    out = {}
    for name, entry in sorted((group_db or {}).items()):
        for member in entry.get("members", []):
            out.setdefault(member, []).append(name)
    return out


def plan(info, d, rendered=None, login_user="", check_mode=False, variables=None):
    """What differs between the host (``access_info``) and the desired state ``d`` (see the module docstring)."""
    v = variables or {}
    info = info or {}
    passwd = info.get("passwd") or {}
    group_db = info.get("groups") or {}
    shadow = info.get("shadow") or {}
    homes = info.get("homes") or {}
    member_of = _member_of(group_db)
    existing_groups = set(group_db)

    def groups_for(wanted):
        return sorted(g for g in wanted if g in existing_groups) if check_mode else sorted(wanted)

    # Packages and PAM modules.
    installed = info.get("packages") or {}
    missing_packages = [p for p in d["packages"] if not installed.get(p)]
    missing_pam = [m for m in d["pam_modules"] if m not in (info.get("pam_modules") or [])]

    # Accounts (AISEC-ACCESS-01): what ansible.builtin.user would change.
    groups_to_create = [g for g in d["groups_wanted"] if g not in existing_groups]
    accounts = []
    for u in d["present"]:
        current = member_of.get(u["name"], [])
        want_groups = sorted(set(current) - set(d["managed_groups"]) | {d["groups"][u["role"]]})
        entry = {"name": u["name"], "role": u["role"], "comment": u["comment"], "shell": u["shell"],
                 "groups": groups_for(want_groups)}
        if "uid" in u:
            entry["uid"] = u["uid"]
        p = passwd.get(u["name"])
        home = homes.get(u["name"]) or {}
        if (p is None or p["gecos"] != u["comment"] or p["shell"] != u["shell"]
                or ("uid" in u and p["uid"] != u["uid"]) or sorted(current) != want_groups or not home.get("exists")):
            accounts.append(entry)
    service_user = v.get("access_service_user")
    service_change = False
    if v.get("access_service_account_enabled"):
        p = passwd.get(service_user)
        sh = shadow.get(service_user)
        service_change = (p is None or p["shell"] != "/usr/sbin/nologin" or p["home"] != v.get("access_service_home")
                          or p["gecos"] != "Inference service (no login)"
                          or sorted(member_of.get(service_user, [])) != sorted(d["service_groups"])
                          or sh is None or not sh["locked"] or not (homes.get(service_user) or {}).get("exists"))
    bg_user = v.get("access_breakglass_user")
    breakglass_change = False
    if v.get("access_breakglass_enabled"):
        p = passwd.get(bg_user)
        sh = shadow.get(bg_user)
        hash_ = v.get("access_breakglass_password_hash") or ""
        breakglass_change = (p is None or p["shell"] != "/bin/bash" or p["gecos"] != "Break-glass (console only, audited)"
                             or sorted(member_of.get(bg_user, [])) != [d["groups"]["breakglass"]]
                             or not (homes.get(bg_user) or {}).get("exists")
                             or (bool(hash_) and (sh is None or sh["password_sha256"] != rp.sha256_text(hash_))))

    # Homes of the managed accounts (CIS: 0750 or stricter) and their dot-files (not writable by group/others).
    home_fixes, dotfile_fixes = [], []
    for name in d["info"]["accounts"]:
        home = homes.get(name)
        if not home or not home.get("exists"):
            continue
        mode = int(home["mode"], 8)
        # The service account's home is a managed directory of its own (0750, see the files).
        own_spec = name == service_user and v.get("access_service_account_enabled")
        if mode & 0o027 and not own_spec:
            home_fixes.append({"path": home["path"], "mode": "%04o" % (mode & ~0o027 & 0o7777), "user": name})
        for dot in home.get("writable_dotfiles") or []:
            fixed = int(dot["mode"], 8) & ~0o022 & 0o7777
            dotfile_fixes.append({"path": os.path.join(home["path"], dot["name"]), "mode": "%04o" % fixed})

    # Departed: members of the role groups no longer listed (when pruning) and users listed as absent; accounts
    # below UID 1000 (system accounts) only lose the role groups.
    candidates = []
    if v.get("access_prune_users"):
        for g in d["managed_groups"]:
            candidates.extend(m for m in (group_db.get(g) or {}).get("members", []) if m)
    keep = set(d["present_names"] + ["root", login_user, bg_user, service_user])
    departed = []
    for name in sorted(set(candidates + d["absent_names"]) - keep):
        if name not in passwd:
            continue
        uid = passwd[name]["uid"]
        if uid < 1000:
            action = "strip"
        elif v.get("access_prune_action") == "remove" or name in d["absent_names"]:
            action = "remove"
        else:
            action = "lock"
        departed.append({"name": name, "uid": uid, "action": action,
                         "groups": sorted(set(member_of.get(name, [])) - set(d["managed_groups"]))})

    # Files. In check mode, entries owned by an account or group still to be created are left out (the account
    # and group tasks report that drift; ansible.builtin.file would fail on the unknown owner).
    specs = []
    for f in d["files"]:
        if not f["wanted"]:
            continue
        if check_mode and f.get("needs_account") and f.get("owner") not in passwd:
            continue
        if check_mode and f.get("needs_group") and f.get("needs_group") not in existing_groups:
            continue
        specs.append(f)
    drift = rp.files_drift(specs, info.get("files") or {}, rendered or {})
    keydir = v.get("access_ssh_authorized_keys_dir")
    present_keys = set(n for n in d["present_names"] if any(f.get("user") == n for f in d["files"]))
    gone = set(d["absent_names"] + d["present_names"] + [x["name"] for x in departed])
    dirs = info.get("directories") or {}
    stale_keys = ["%s/%s" % (keydir, n) for n in dirs.get(keydir) or []
                  if n not in present_keys and (v.get("access_prune_users") or n in gone)] \
        if v.get("access_ssh_enabled") else []
    totp_dir = v.get("access_totp_secret_dir")
    totp_write = [n for n in d["totp_admins"] if (info.get("totp") or {}).get(n) != d["totp_digests"].get(n)]
    totp_stale = ["%s/%s" % (totp_dir, n) for n in dirs.get(totp_dir) or [] if n not in d["totp_admins"]]

    # PAM stacks.
    contents = info.get("contents") or {}
    pam_drift = []
    for p in d["pam_profiles"]:
        stack = contents.get(p["stack"]) or ""
        active = re.search(r"(?m)^[^#\n]*" + re.escape(p["marker"]), stack) is not None
        if active != bool(p["wanted"]):
            pam_drift.append(p["name"])
    profiles_on_disk = set(dirs.get(PAM_PROFILE_DIR) or [])
    profile_changed = [p["name"] for p in d["pam_profiles"] if PAM_PROFILE_DIR + "/" + p["name"] in drift]
    enable = [p["name"] for p in d["pam_profiles"] if p["wanted"]]
    disable = [p["name"] for p in d["pam_profiles"] if not p["wanted"] and p["name"] in pam_drift]
    pam_update = sorted(set(pam_drift) | set(profile_changed))
    pam_lines = []
    for inc in d["pam_includes"]:
        if not inc["managed"]:
            continue
        for svc in inc["services"]:
            text = contents.get("/etc/pam.d/" + svc)
            include_re = r"(?m)^@include[ \t]+%s[ \t]*$" % re.escape(inc["name"])
            present = text is not None and re.search(include_re, text) is not None
            if present != bool(inc["wanted"]) and not (text is None and check_mode):
                pam_lines.append({"name": inc["name"], "service": svc, "wanted": bool(inc["wanted"]),
                                  "control": inc["control"]})
    su_text = contents.get(SU_PAM)
    su_line = "auth       requisite  pam_wheel.so use_uid group=%s" % d["groups"]["admin"]
    su_wanted = bool(v.get("access_su_restrict"))
    su_re = r"(?m)^auth[ \t]+requisite[ \t]+pam_wheel\.so use_uid group=%s[ \t]*$" % re.escape(d["groups"]["admin"])
    su_present = su_text is not None and re.search(su_re, su_text) is not None
    su_change = su_text is not None and su_present != su_wanted
    cleanup = []
    for p in d["pam_profiles"]:
        if not p["wanted"] and p["name"] in profiles_on_disk:
            cleanup.append({"path": PAM_PROFILE_DIR + "/" + p["name"], "control": p["control"]})
    for inc in d["pam_includes"]:
        state = (info.get("files") or {}).get("/etc/pam.d/" + inc["name"]) or {}
        if inc["managed"] and not inc["wanted"] and state.get("exists"):
            cleanup.append({"path": "/etc/pam.d/" + inc["name"], "control": inc["control"]})
    for f in d["files"]:
        if f["wanted"] or f.get("state", "file") == "directory" or not f.get("src", "").startswith("sshd_"):
            continue
        state = (info.get("files") or {}).get(f["path"]) or {}
        if state.get("exists"):
            cleanup.append({"path": f["path"], "control": f["control"]})

    # sudoers drop-ins the role does not own (AISEC-ACCESS-03): reported as drift; removed on opt-in.
    own = os.path.basename(SUDOERS_FILE)
    allowed = set(v.get("access_sudo_allowed_dropins") or [])
    foreign = []
    for name, entry in sorted((info.get("sudoers_dropins") or {}).items()):
        if name == own or name in allowed or entry.get("rules") is False:
            continue
        foreign.append({"path": "%s/%s" % (SUDOERS_DIR, name), "lines": entry.get("lines", []),
                        "error": entry.get("error")})

    guarded_files = [p for p in drift if any(f["path"] == p and f.get("guarded", True) for f in specs)]
    controls = dict((c, c in rp.controls_of(drift, specs)) for c in ("AISEC-ACCESS-0%d" % i for i in range(1, 7)))
    controls["AISEC-ACCESS-01"] = bool(controls["AISEC-ACCESS-01"] or groups_to_create or accounts or departed
                                       or service_change or home_fixes or dotfile_fixes)
    controls["AISEC-ACCESS-02"] = bool(controls["AISEC-ACCESS-02"] or totp_write or totp_stale
                                       or any(x["control"] == "AISEC-ACCESS-02" for x in pam_lines + cleanup))
    controls["AISEC-ACCESS-03"] = bool(controls["AISEC-ACCESS-03"] or su_change
                                       or any(x["control"] == "AISEC-ACCESS-03" for x in pam_lines + cleanup))
    for control in ("AISEC-ACCESS-04", "AISEC-ACCESS-06"):
        controls[control] = bool(controls[control] or any(
            p["control"] == control and p["name"] in pam_update for p in d["pam_profiles"])
            or any(x["control"] == control for x in cleanup))
    controls["AISEC-ACCESS-06"] = bool(controls["AISEC-ACCESS-06"] or breakglass_change)
    controls["AISEC-ACCESS-05"] = bool(controls["AISEC-ACCESS-05"] or stale_keys
                                       or any(x["control"] == "AISEC-ACCESS-05" for x in cleanup))
    guarded = bool(guarded_files or stale_keys or totp_write or totp_stale or pam_update or pam_lines
                   or cleanup or su_change)
    return {
        "missing_packages": missing_packages,
        "missing_pam_modules": missing_pam,
        "groups_to_create": groups_to_create,
        "accounts": accounts,
        "service_change": service_change,
        "service_groups": groups_for(d["service_groups"]),
        "breakglass_change": breakglass_change,
        "breakglass_groups": groups_for([d["groups"]["breakglass"]]),
        "home_fixes": home_fixes,
        "dotfile_fixes": dotfile_fixes,
        "departed": departed,
        "files": drift,
        "files_controls": rp.controls_of(drift, specs),
        "stale_keys": stale_keys,
        "totp_write": totp_write,
        "totp_stale": totp_stale,
        "pam_update": pam_update,
        "pam_enable": enable,
        "pam_disable": disable,
        "pam_lines": pam_lines,
        "su_change": su_change,
        "su_line": su_line,
        "cleanup": cleanup,
        "foreign_sudoers": foreign,
        "guarded": guarded,
        "guarded_paths": d["guarded_paths"],
        "drift": controls,
    }


def pam_check(info, d):
    """The pam-auth-update profiles that are still not in the wanted state after pam-auth-update ran."""
    contents = (info or {}).get("contents") or {}
    out = []
    for p in d["pam_profiles"]:
        active = re.search(r"(?m)^[^#\n]*" + re.escape(p["marker"]), contents.get(p["stack"]) or "") is not None
        if active != bool(p["wanted"]):
            out.append(p["name"])
    return out


def _sshd_map(lines):
    out = {}
    for line in lines or []:
        key, _sep, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def checks(info, d, variables):
    """Failures of the post-change checks (``[]`` when everything holds); see the module docstring."""
    v = variables
    failures = []
    sshd = (info or {}).get("sshd") or {}
    keydir = v.get("access_ssh_authorized_keys_dir")
    allow = sorted(d["managed_groups"])
    for user, result in sorted(sshd.items()):
        if result.get("error"):
            failures.append("sshd -T for %s failed: %s" % (user, result["error"]))
            continue
        t = _sshd_map(result.get("lines"))
        role = next((u["role"] for u in d["present"] if u["name"] == user), None)
        is_admin = role == "admin"
        want = {"permitrootlogin": "no", "passwordauthentication": "no", "permitemptypasswords": "no",
                "x11forwarding": "no", "pubkeyauthentication": "yes", "authorizedkeysfile": keydir + "/%u",
                "authorizedkeyscommand": "none", "authorizedprincipalsfile": "none", "trustedusercakeys": "none",
                "permittunnel": "no", "gatewayports": "no",
                "allowtcpforwarding": "yes" if v.get("access_ssh_allow_tcp_forwarding") else "no",
                "allowagentforwarding": "yes" if v.get("access_ssh_allow_agent_forwarding") else "no"}
        if is_admin and d["ssh_mfa"] == "fido2":
            want.update({"pubkeyacceptedalgorithms": ",".join(v.get("access_ssh_admin_pubkey_algorithms") or []),
                         "pubkeyauthoptions": "touch-required verify-required", "authenticationmethods": "publickey",
                         "kbdinteractiveauthentication": "no"})
        elif is_admin:
            want.update({"authenticationmethods": "publickey,keyboard-interactive:pam",
                         "kbdinteractiveauthentication": "yes"})
        else:
            want.update({"authenticationmethods": "publickey", "kbdinteractiveauthentication": "no"})
        for key, value in sorted(want.items()):
            have = (t.get(key) or ["?"])[0]
            if have != value:
                failures.append('sshd for %s: %s is "%s", wanted "%s"' % (user, key, have, value))
        if sorted(t.get("allowgroups", [])) != allow:
            failures.append("sshd for %s: AllowGroups is %s, wanted exactly %s" % (
                user, " ".join(sorted(t.get("allowgroups", []))) or "(none)", " ".join(allow)))
        if t.get("allowusers"):
            failures.append("sshd for %s: AllowUsers %s is set (it would widen or narrow who logs in)"
                            % (user, " ".join(t["allowusers"])))
        if not set(d["deny_users"]) <= set(t.get("denyusers", [])):
            failures.append("sshd for %s: DenyUsers lacks %s" % (
                user, ", ".join(sorted(set(d["deny_users"]) - set(t.get("denyusers", []))))))
    check = (info or {}).get("sudoers_check")
    if check is not None and check.get("rc") != 0:
        failures.append("the complete sudoers configuration is invalid (visudo -c): %s" % check.get("output"))
    banner = (info or {}).get("banner")
    if banner is not None and not banner.get("banner"):
        failures.append("sshd does not accept new connections on %s port %s: %s" % (
            banner["listen"]["host"], banner["listen"]["port"], banner.get("error")))
    return failures


def check_users(d):
    """One user per managed class whose effective sshd configuration the post-change check reads."""
    out = []
    for role in ROLES:
        name = next((u["name"] for u in d["present"] if u["role"] == role), None)
        if name:
            out.append(name)
    return out


def login(d, variables, login_user, connection, current_keys=()):
    """The lockout pre-flight for the account this play connects as: ``[]`` or the reasons it would lose access."""
    v = variables
    over_ssh = (connection or "ssh") in SSH_CONNECTION_TYPES
    if not (v.get("access_lockout_check_connecting_user") and (over_ssh or v.get("access_connecting_user"))):
        return []
    if not v.get("access_ssh_enabled"):
        return []
    entry = next((u for u in d["present"] if u["name"] == login_user), None)
    reasons = []
    if not login_user:
        reasons.append("the connecting user could not be determined (set access_connecting_user)")
    elif login_user == "root":
        reasons.append("root logins are disabled by this role (PermitRootLogin no)")
    elif entry is None:
        reasons.append("'%s' is not a present user in access_users (only members of %s may log in)"
                       % (login_user, ", ".join(d["managed_groups"])))
    elif entry["role"] == "operator":
        reasons.append("'%s' is an operator: operators cannot become root, so the play could not run again"
                       % login_user)
    elif entry["role"] == "admin" and not (d["ssh_mfa"] == "fido2" and d["sudo_mfa"] == "none"):
        reasons.append("an administrator cannot be Ansible's login: Ansible can answer neither a TOTP prompt at "
                       "login (access_ssh_mfa=%s) nor sudo's second factor (access_sudo_mfa=%s)"
                       % (d["ssh_mfa"], d["sudo_mfa"]))
    if entry is not None and not reasons:
        current = set()
        for text in current_keys:
            current.update(AUTHKEYS_BLOB_RE.findall(text or ""))
        new = set(str(k).split()[1] for k in entry["ssh_keys"] if len(str(k).split()) > 1)
        if current and not current & new:
            reasons.append("none of the %d keys that authorize '%s' today is in its new ssh_keys list, so this play's "
                           "next SSH login would fail; keep the current key until the new one is rolled out"
                           % (len(current), login_user))
    return reasons

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_info
short_description: Read the host state the aisec.gpu_host.access role decides on, in one call
version_added: "0.1.0"
description:
  - Read-only state reader of the C(aisec.gpu_host.access) role. One call returns everything the role's plan
    (the C(aisec.gpu_host.access_plan) filter) compares with the desired state (packages, PAM modules, the user,
    group and shadow databases, home directories, managed files, PAM stacks, TOTP secret digests and the sudoers
    drop-ins), so that a converged host costs one round trip.
  - After a change, the same module reads the effective sshd configuration for given users (C(sshd -T)), checks
    the complete sudoers configuration (C(visudo -c)) and proves that sshd accepts a new TCP connection.
  - No secret leaves the host; password fields and TOTP secret files are returned as sha256 digests only.
  - Changes nothing, in or outside check mode.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  accounts:
    description:
      - User names whose shadow summary (RV(shadow)) and home directory (RV(homes)) are returned. The whole user
        and group databases are always returned (RV(passwd), RV(groups)).
    type: list
    elements: str
    default: []
  pam_modules:
    description: Return the names of the installed PAM modules (RV(pam_modules)).
    type: bool
    default: true
  totp_dir:
    description: Directory of the pam_google_authenticator secret files (one file per user name).
    type: path
  totp_users:
    description: Users whose TOTP secret file digest is returned in RV(totp).
    type: list
    elements: str
    default: []
  sudoers_dir:
    description: Drop-in directory of sudo whose files are summarised in RV(sudoers_dropins); empty to skip.
    type: str
    default: /etc/sudoers.d
  processes_of:
    description: Users whose processes (by UID or login UID) are listed in RV(processes).
    type: list
    elements: str
    default: []
  sshd_users:
    description: Users for whom C(sshd -T -C user=NAME,host=localhost,addr=127.0.0.1) is returned in RV(sshd).
    type: list
    elements: str
    default: []
  sshd_banner_timeout:
    description:
      - When above 0, open a new TCP connection to the first address sshd listens on and wait up to this many
        seconds for its OpenSSH banner (RV(banner)). Needs O(sshd_users) for the listen address.
    type: int
    default: 0
  sudoers_check:
    description: Check the complete sudoers configuration with C(visudo -c) (RV(sudoers_check)).
    type: bool
    default: false
  authorized_keys_of:
    description:
      - Users whose authorized keys today are returned in RV(authorized_keys) (public keys only), that is the file
        named after the user in O(authorized_keys_dir) and C(~/.ssh/authorized_keys). The lockout pre-flight
        checks that the connecting user keeps one of them.
    type: list
    elements: str
    default: []
  authorized_keys_dir:
    description: The root-owned authorized keys directory of the role.
    type: path
    default: /etc/ssh/authorized_keys
extends_documentation_fragment:
  - aisec.gpu_host.host_state
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs on the target with the Python standard library only; reading C(/etc/shadow) needs root.
seealso:
  - module: aisec.gpu_host.safe_apply
"""

EXAMPLES = r"""
- name: Read the access state
  aisec.gpu_host.access_info:
    accounts: [adm-alice, svc-inference, breakglass]
    packages: [openssh-server, sudo, libpam-google-authenticator]
    files: [/etc/sudoers.d/10-aisec-access, /etc/ssh/sshd_config.d/10-aisec-access.conf]
    contents: [/etc/pam.d/common-auth, /etc/pam.d/sshd]
    directories: [/etc/ssh/authorized_keys]
    totp_dir: /var/lib/aisec-access/totp
    totp_users: [adm-alice]
  register: access_state

- name: Check sshd and sudo after a change
  aisec.gpu_host.access_info:
    pam_modules: false
    sudoers_dir: ""
    sshd_users: [adm-alice, op-bob]
    sshd_banner_timeout: 15
    sudoers_check: true
  register: access_checks
"""

RETURN = r"""
files:
  description: Per path of O(files), its C(stat) and sha256, as RV(aisec.gpu_host.host_info#module:files) describes.
  returned: always
  type: dict
contents:
  description: Per path of O(contents), its text or C(null), as RV(aisec.gpu_host.host_info#module:contents) describes.
  returned: always
  type: dict
directories:
  description: Per path of O(directories), the entry names or C(null).
  returned: always
  type: dict
packages:
  description: Per name of O(packages), the installed version or C(null).
  returned: always
  type: dict
services:
  description: Per unit of O(services), C(load), C(active) and C(enabled), as RV(aisec.gpu_host.host_info#module:services) describes.
  returned: always
  type: dict
passwd:
  description: The user database, C(name) to C(uid), C(gid), C(gecos), C(home), C(shell).
  returned: always
  type: dict
groups:
  description: The group database, C(name) to C(gid) and C(members).
  returned: always
  type: dict
shadow:
  description:
    - Per user of O(accounts), C(locked), C(expire) (days since the epoch) and C(password_sha256) (the sha256 of
      the password field, never the field), or C(null) without a shadow entry.
  returned: always
  type: dict
homes:
  description:
    - Per user of O(accounts), C(path), C(exists), C(mode), C(owner_uid) and C(writable_dotfiles) (dot-files in
      it writable by group or others, C(name) and C(mode)), or C(null) for an unknown user.
  returned: always
  type: dict
pam_modules:
  description: Names of the installed PAM modules (C(pam_faillock.so), ...).
  returned: always
  type: list
  elements: str
totp:
  description: Per user of O(totp_users), the sha256 of the normalised secret file (without the state the PAM module appends), or C(null).
  returned: always
  type: dict
sudoers_dropins:
  description:
    - Per file of O(sudoers_dir) that sudo reads, C(sha256), C(rules) (it holds a rule, not only comments) and
      C(lines) (its first rules, for the report); C(null) when the directory is missing or not read.
  returned: always
  type: dict
processes:
  description: Per user of O(processes_of), the PIDs running with its UID or login UID.
  returned: always
  type: dict
sshd:
  description: Per user of O(sshd_users), C(lines) (the C(sshd -T) output lines) or C(error).
  returned: always
  type: dict
sudoers_check:
  description: C(rc) and C(output) of C(visudo -c -q), with O(sudoers_check=true); else C(null).
  returned: always
  type: dict
authorized_keys:
  description: Per user of O(authorized_keys_of), the texts of its authorized keys files that exist.
  returned: always
  type: dict
banner:
  description: C(listen) (C(host), C(port)), C(banner) (the OpenSSH banner or C(null)) and C(error), with O(sshd_banner_timeout).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_state
from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state


def main():
    spec = dict(host_state.SPEC)
    spec.update(
        accounts=dict(type="list", elements="str", default=[]),
        pam_modules=dict(type="bool", default=True),
        totp_dir=dict(type="path"),
        totp_users=dict(type="list", elements="str", default=[]),
        sudoers_dir=dict(type="str", default="/etc/sudoers.d"),
        processes_of=dict(type="list", elements="str", default=[]),
        sshd_users=dict(type="list", elements="str", default=[]),
        sshd_banner_timeout=dict(type="int", default=0),
        sudoers_check=dict(type="bool", default=False),
        authorized_keys_of=dict(type="list", elements="str", default=[], no_log=False),
        authorized_keys_dir=dict(type="path", default="/etc/ssh/authorized_keys"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    result = host_state.read(p)
    result["passwd"] = host_state.passwd_db()
    result["groups"] = host_state.group_db()
    result["shadow"] = host_state.shadow(p["accounts"])
    result["homes"] = dict((name, access_state.home_state(name)) for name in p["accounts"])
    result["pam_modules"] = access_state.pam_modules() if p["pam_modules"] else []
    totp_dir = p["totp_dir"] or ""
    result["totp"] = dict(
        (user, access_state.totp_digest(host_state.read_text(os.path.join(totp_dir, user))) if totp_dir else None)
        for user in p["totp_users"])
    result["sudoers_dropins"] = access_state.sudoers_dropins(p["sudoers_dir"]) if p["sudoers_dir"] else None
    result["processes"] = access_state.processes_of(p["processes_of"])
    result["sshd"] = access_state.sshd_effective(p["sshd_users"])
    result["sudoers_check"] = access_state.sudoers_check() if p["sudoers_check"] else None
    result["authorized_keys"] = {}
    for user in p["authorized_keys_of"]:
        home = (result["passwd"].get(user) or {}).get("home")
        paths = [os.path.join(p["authorized_keys_dir"], user)] + ([os.path.join(home, ".ssh", "authorized_keys")]
                                                                  if home else [])
        result["authorized_keys"][user] = [t for t in (host_state.read_text(path) for path in paths) if t is not None]
    result["banner"] = None
    if p["sshd_banner_timeout"] > 0:
        first = next((v["lines"] for v in result["sshd"].values() if v.get("lines")), None)
        host, port = access_state.listen_address(first)
        banner, error = access_state.ssh_banner(host, port, float(p["sshd_banner_timeout"]))
        result["banner"] = {"listen": {"host": host, "port": port}, "banner": banner, "error": error}
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

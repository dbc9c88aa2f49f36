# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: safe_apply
short_description: Arm, confirm or fire a timed restore around a change that can cut remote access
version_added: "0.1.0"
description:
  - The safe-apply guard of aisec.gpu_host, after C(iptables-apply(8)) and Junos C(commit confirmed). The
    firewall and access roles (and any role whose change can lock the operator out) run their change between
    O(state=armed) and O(state=confirmed).
  - O(state=armed) saves O(paths) (files or whole directories, with owner and mode, and the fact that a path did
    not exist) under C(/run/aisec-<name>/) (tmpfs, root only, gone after a reboot) and starts a transient systemd
    timer, C(aisec-<name>-rollback.timer), that restores them after O(timeout) seconds and then runs
    O(restore_commands).
  - O(state=confirmed) stops the timer and deletes the saved state, after the role proved that a B(new) connection
    and privilege escalation work with the new configuration (the C(aisec.gpu_host.safe_apply) role's C(confirm)
    entry point does that). It fails when the timer already restored the previous state.
  - O(state=rolled_back) restores the saved state at once, with the same script the timer runs (a post-change
    check failed while the connection still works).
  - When an earlier change under the same O(name) was armed and never confirmed (its timer is still pending),
    arming again keeps that earlier saved state, which is the one known to work, and restarts the timer.
  - Arming and confirming change no configuration and report C(changed=false); a rollback reports
    C(changed=true).
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  name:
    description: Name of the guard (systemd unit C(aisec-<name>-rollback)); C([a-z][a-z0-9_-]{0,31}).
    type: str
    required: true
  state:
    description: What to do.
    type: str
    choices: [armed, confirmed, rolled_back]
    required: true
  timeout:
    description: With O(state=armed), seconds until the timer restores the saved state (10 to 86400).
    type: int
    default: 300
  paths:
    description:
      - With O(state=armed), absolute normalised paths to save and restore. A directory is saved and restored as
        a whole (entries added after arming are removed); a path that did not exist is removed by the restore.
      - System directories (C(/etc), C(/etc/ssh), C(/etc/pam.d), C(/usr), ...) are refused; list the files in
        them instead.
    type: list
    elements: path
    default: []
  restore_commands:
    description:
      - With O(state=armed), commands (argument lists, absolute program path first, no shell) the restore runs
        after the files, in order; a failing command is logged and the next one still runs.
    type: list
    elements: list
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is armed, confirmed or restored; the module reports what it would do.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Needs systemd (systemd-run) on the target.
notes:
  - Runs on the target with the Python standard library only.
  - A rollback is logged to the authpriv facility with priority crit (tag C(aisec-<name>)), writes the Unix time of
    the rollback to C(/run/aisec-<name>/rolled-back) and leaves the world-readable marker
    C(/run/aisec-<name>.rolled-back).
seealso:
  - module: ansible.builtin.wait_for_connection
  - module: community.general.iptables_state
"""

EXAMPLES = r"""
- name: Save the SSH configuration and arm a 5-minute rollback
  aisec.gpu_host.safe_apply:
    name: access
    state: armed
    timeout: 300
    paths:
      - /etc/ssh/sshd_config.d/10-aisec-access.conf
      - /etc/ssh/authorized_keys
    restore_commands:
      - [/usr/bin/systemctl, reload, ssh.service]

- name: Change sshd here (template with validate), then prove a new login works and confirm
  ansible.builtin.include_role:
    name: aisec.gpu_host.safe_apply
    tasks_from: confirm
  vars:
    safe_apply_name: access
    safe_apply_timeout: 300

- name: Restore now (a check failed)
  aisec.gpu_host.safe_apply:
    name: access
    state: rolled_back
"""

RETURN = r"""
unit:
  description: The timer unit of the guard.
  returned: state=armed
  type: str
  sample: aisec-access-rollback.timer
expires:
  description: Unix time at which the timer restores the saved state.
  returned: state=armed and not check mode
  type: int
paths:
  description: The paths the saved state covers.
  returned: state=armed
  type: list
  elements: str
kept_snapshot:
  description: Whether an earlier unconfirmed saved state was kept (see the description).
  returned: state=armed
  type: bool
outcome:
  description:
    - C(confirmed), C(not_armed) (nothing to confirm), C(rolled_back) (the timer had restored the previous state, so the
      module fails) or, with O(state=rolled_back), C(restored) or C(not_armed).
  returned: with O(state=confirmed) or O(state=rolled_back)
  type: str
armed_at:
  description: Unix time the guard was armed, when the timer restored the previous state before the confirmation.
  returned: when the confirmation fails because the timer restored the previous state
  type: int
rolled_back_at:
  description: Unix time the timer restored the previous state.
  returned: when the confirmation fails because the timer restored the previous state
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils import safe_apply as guard


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=["armed", "confirmed", "rolled_back"]),
            timeout=dict(type="int", default=300),
            paths=dict(type="list", elements="path", default=[]),
            restore_commands=dict(type="list", elements="list", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        guard.check_name(p["name"])
        if p["state"] == "armed":
            paths = guard.check_paths(p["paths"])
            guard.check_commands(p["restore_commands"])
            if module.check_mode:
                module.exit_json(changed=False, unit=guard.unit(p["name"]) + ".timer", paths=paths,
                                 kept_snapshot=False)
            result = guard.arm(p["name"], p["timeout"], paths, p["restore_commands"])
            module.exit_json(changed=False, **result)
        if module.check_mode:
            module.exit_json(changed=False, outcome="not_armed")
        if p["state"] == "confirmed":
            outcome = guard.confirm(p["name"])
            armed, restored = guard.timing(p["name"])
            if outcome == "rolled_back":
                module.fail_json(
                    msg="The safe-apply timer of %s restored the previous state before this run confirmed the "
                        "change (the timeout was too short for this host, or the confirmation came late). The "
                        "change is gone; raise the timeout and run again." % p["name"], outcome=outcome,
                    armed_at=armed, rolled_back_at=restored)
            module.exit_json(changed=False, outcome=outcome)
        restored, message = guard.rollback(p["name"])
        module.exit_json(changed=restored, outcome="restored" if restored else "not_armed", msg=message)
    except guard.GuardError as exc:
        module.fail_json(msg="aisec.gpu_host.safe_apply %s: %s" % (p["name"], exc))
    except (OSError, ValueError) as exc:
        module.fail_json(msg="aisec.gpu_host.safe_apply %s failed: %s" % (p["name"], exc))


if __name__ == "__main__":
    main()

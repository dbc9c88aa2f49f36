# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_table
short_description: Keep one nftables table exactly as an nft script defines it, atomically
version_added: "0.1.0"
description:
  - Compares the live table O(family) O(name) with the table that O(ruleset) defines, in nft's canonical listing
    (C(nft -s list table); the ruleset is loaded into a throw-away network namespace for that), and when they
    differ loads O(ruleset) with C(nft -f) as one transaction (all or nothing). Only this table is touched (no
    C(flush ruleset)), so Docker's and every other table survive.
  - The ruleset must replace the table as a whole, which is what C(table F N {}) followed by C(delete table F N)
    and the full table does; it is checked with C(nft -c) before anything is loaded, and the table is compared
    again after the load.
  - Each changed top-level object (set, chain, ...) is attributed to a control through O(controls); the result's
    RV(changed_controls) lets the aisec.gpu_host.compliance_report callback report drift of exactly those
    controls.
  - In check mode nothing is loaded and the module reports whether, and with C(--diff) how, the table
    would change.
  - Meant to run under M(aisec.gpu_host.safe_apply) when the change can cut remote access.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  name:
    description: Name of the table.
    type: str
    required: true
  ruleset:
    description: The nft script that defines the table (see the description).
    type: str
    required: true
  backup_file:
    description:
      - Outside check mode, write an nft script that restores the table exactly as it was before this call (or
        removes the table when it did not exist) to this path, mode C(0600), checked with C(nft -c). It is written on
        every call, also when nothing changes, so that a M(aisec.gpu_host.safe_apply) guard armed before the call
        restores exactly this state, never an older copy.
    type: path
extends_documentation_fragment:
  - aisec.gpu_host.nft
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Runs on the target with the Python standard library only; needs C(nft), C(unshare) (util-linux) and root.
  - Without C(nft) installed, check mode reports the whole table as new; outside check mode the module fails.
seealso:
  - module: aisec.gpu_host.firewall_info
  - module: aisec.gpu_host.safe_apply
"""

EXAMPLES = r"""
- name: Load the role's table atomically, keeping a restorable copy of the previous one
  aisec.gpu_host.nft_table:
    name: aisec
    ruleset: "{{ lookup('ansible.builtin.template', 'aisec.nft.j2') }}"
    backup_file: /run/aisec-firewall/rollback.nft
    controls:
      - {match: input, control: AISEC-NET-01}
      - {match: output, control: AISEC-NET-02}
"""

RETURN = r"""
changed_objects:
  description: The top-level objects of the table that differ (e.g. C(chain input), C(set admin_v4)).
  returned: always
  type: list
  elements: str
changed_controls:
  description: The controls of RV(changed_objects) (see O(controls)).
  returned: always
  type: list
  elements: str
backup_file:
  description: Path of the restorable copy of the previous table.
  returned: outside check mode, when O(backup_file) is set
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils import nft


def main():
    module = AnsibleModule(
        argument_spec=dict(
            family=dict(type="str", default="inet", choices=list(nft.FAMILIES)),
            name=dict(type="str", required=True),
            ruleset=dict(type="str", required=True),
            ruleset_append=dict(type="list", elements="path", default=[]),
            controls=dict(type="list", elements="dict", default=[]),
            default_control=dict(type="str"),
            backup_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    family, name = p["family"], p["name"]
    try:
        nft.check_table(family, name)
        if not nft.nft_binary():
            if module.check_mode:
                module.exit_json(changed=True, changed_objects=["table %s %s" % (family, name)],
                                 changed_controls=nft.all_controls(p["controls"], p["default_control"]),
                                 diff={"before": "", "after": p["ruleset"],
                                       "before_header": "nft is not installed", "after_header": "desired"})
            module.fail_json(msg="nft is not installed: install nftables first")
        ruleset, _appended = nft.with_appended(p["ruleset"], p["ruleset_append"])
        live = nft.live_listing(family, name)
        desired = nft.scratch_listing(ruleset, family, name)
        result = nft.compare(live, desired, p["controls"], p["default_control"], family, name)
        diff = {"before": live or "", "after": desired, "before_header": "live: %s %s" % (family, name),
                "after_header": "desired: %s %s" % (family, name)}
        if module.check_mode:
            module.exit_json(changed=result["changed"], changed_objects=result["changed_objects"],
                             changed_controls=result["changed_controls"], diff=diff)
        extra = {}
        if p["backup_file"]:
            # Always, also when nothing changes: a guard armed before this call must restore the table exactly as
            # it was right before it, never an older copy.
            backup = p["backup_file"]
            os.makedirs(os.path.dirname(backup), mode=0o700, exist_ok=True)
            staged = backup + ".new"
            old_umask = os.umask(0o077)
            try:
                with open(staged, "w") as handle:
                    handle.write(nft.restorable(family, name, live))
            finally:
                os.umask(old_umask)
            nft.check_script(staged)
            os.rename(staged, backup)
            extra["backup_file"] = backup
        if not result["changed"]:
            module.exit_json(changed=False, changed_objects=[], changed_controls=[], diff=diff, **extra)
        script = os.path.join(module.tmpdir, "apply.nft")
        with open(script, "w") as handle:
            handle.write(ruleset)
        nft.check_script(script)
        nft.load(script)
        after = nft.live_listing(family, name)
        if after != desired:
            module.fail_json(msg="the table %s %s differs from the desired ruleset right after loading it "
                                 "(another process changed it?)" % (family, name), **extra)
        module.exit_json(changed=True, changed_objects=result["changed_objects"],
                         changed_controls=result["changed_controls"], diff=diff, **extra)
    except (nft.NftError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_info
short_description: Read the host state the aisec.gpu_host.firewall role decides on, in one call
version_added: "0.1.0"
description:
  - Read-only state reader of the C(aisec.gpu_host.firewall) role. One call returns everything the role's plan
    (the C(aisec.gpu_host.firewall_plan) filter) compares with the desired state, so that a converged host costs
    one round trip.
  - With O(ruleset), compares the live nftables table O(family) O(table) with that ruleset in nft's canonical
    listing (C(nft -s list table)). The ruleset is loaded into a throw-away network namespace, never into the
    host's; the result names the changed sets and chains and the controls they belong to (O(controls)).
  - With O(controller=true), returns the address and port of the SSH client that runs this module, as the host
    sees it (through NAT or a bastion), read from C(SSH_CONNECTION) of the nearest ancestor process when privilege
    escalation reset the environment.
  - Changes nothing, in or outside check mode.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  table:
    description: Name of the table to compare.
    type: str
    default: aisec
  ruleset:
    description:
      - The desired ruleset (an nft script that defines the table). When empty, no comparison is made and
        RV(table) is C(null).
    type: str
    default: ""
  controller:
    description: Return the address the SSH client connects from (RV(controller)).
    type: bool
    default: false
  live:
    description: Return the canonical listing of the live table O(family) O(table) (RV(live)).
    type: bool
    default: false
extends_documentation_fragment:
  - aisec.gpu_host.nft
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
  - Runs on the target with the Python standard library only; the comparison needs C(nft) and C(unshare)
    (util-linux) and root.
seealso:
  - module: aisec.gpu_host.nft_table
"""

EXAMPLES = r"""
- name: Read the firewall state and compare the live table with the desired ruleset
  aisec.gpu_host.firewall_info:
    table: aisec
    ruleset: "{{ lookup('ansible.builtin.template', 'aisec.nft.j2') }}"
    ruleset_append: [/etc/nftables.d/aisec-emergency.nft]
    controls:
      - {match: "blocklist_*", control: AISEC-NET-04}
      - {match: input, control: AISEC-NET-01}
      - {match: "hook:input", control: AISEC-NET-01}
    default_control: AISEC-NET-01
    packages: [nftables]
    services: [nftables.service]
    files: [/etc/nftables.conf]
  register: firewall_state

- name: Fail when the live table drifted from the desired ruleset
  ansible.builtin.assert:
    that: not firewall_state.table.changed
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
nft_installed:
  description: Whether the C(nft) program exists.
  returned: always
  type: bool
table:
  description:
    - The comparison of the live table with O(ruleset); C(null) without O(ruleset). C(exists) (the live table),
      C(changed), C(changed_objects) (e.g. C(chain input)), C(changed_controls), C(diff) (unified diff of the
      canonical listings, live to desired), C(appended) (the O(ruleset_append) files that existed), C(error) when
      the comparison could not be made (then C(changed) is C(null), that is undecided).
  returned: always
  type: dict
  sample: {"exists": true, "changed": true, "changed_objects": ["chain input"], "changed_controls": ["AISEC-NET-01"],
           "diff": "--- live: inet aisec\n+++ desired: inet aisec\n...", "appended": []}
live:
  description: With O(live=true), the canonical listing of the live table (C(nft -s list table)), C(null) when it is absent.
  returned: always
  type: str
controller:
  description: C(address) and C(port) of the SSH client (C(null) without an SSH session), with O(controller=true).
  returned: always
  type: dict
  sample: {"address": "192.0.2.10", "port": 22}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state
from ansible_collections.aisec.gpu_host.plugins.module_utils import nft


def compare_table(params):
    if not params["ruleset"]:
        return None
    family, name = params["family"], params["table"]
    result = {"exists": None, "changed": None, "changed_objects": [], "changed_controls": [], "diff": "",
              "appended": [], "error": None}
    if not nft.nft_binary():
        # Nothing is loaded without nft: every object of the table is new.
        result.update(exists=False, changed=True, diff="nft is not installed: the whole ruleset is new",
                      changed_controls=nft.all_controls(params["controls"], params["default_control"]))
        return result
    try:
        ruleset, result["appended"] = nft.with_appended(params["ruleset"], params["ruleset_append"])
        live = nft.live_listing(family, name)
        desired = nft.scratch_listing(ruleset, family, name)
    except (nft.NftError, OSError) as exc:
        result["error"] = str(exc)
        return result
    result["exists"] = live is not None
    result.update(nft.compare(live, desired, params["controls"], params["default_control"], family, name))
    return result


def main():
    spec = dict(host_state.SPEC)
    spec.update(
        family=dict(type="str", default="inet", choices=list(nft.FAMILIES)),
        table=dict(type="str", default="aisec"),
        ruleset=dict(type="str", default=""),
        ruleset_append=dict(type="list", elements="path", default=[]),
        controls=dict(type="list", elements="dict", default=[]),
        default_control=dict(type="str"),
        controller=dict(type="bool", default=False),
        live=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        nft.check_table(module.params["family"], module.params["table"])
    except nft.NftError as exc:
        module.fail_json(msg=str(exc))
    result = host_state.read(module.params)
    result["nft_installed"] = bool(nft.nft_binary())
    result["table"] = compare_table(module.params)
    result["live"] = None
    if module.params["live"] and result["nft_installed"]:
        try:
            result["live"] = nft.live_listing(module.params["family"], module.params["table"])
        except nft.NftError as exc:
            module.fail_json(msg=str(exc))
    result["controller"] = (host_state.ssh_client() if module.params["controller"]
                            else {"address": None, "port": None})
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

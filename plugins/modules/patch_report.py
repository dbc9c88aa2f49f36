# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patch_report
short_description: Write the per-host report of the patching role as JSON on the controller
version_added: "0.1.0"
description:
  - Writes O(report) as indented JSON with sorted keys to C(<dest>/<name>.json) on the controller, and with
    O(dated_copy=true) also to C(<dest>/<name>-<generated>.json), where C(<generated>) is the report's C(generated)
    timestamp without C(-) and C(:) (for example C(20250102T030405Z)).
  - Each file is replaced atomically (written to a temporary file in O(dest), then renamed) with mode C(0640);
    O(dest) is created, with missing parents, with mode C(0750), and an existing O(dest) gets mode C(0750).
  - Runs on the controller only (action plugin) as the user running Ansible; it never connects to the managed
    host. Used by the aisec.gpu_host.patching role instead of M(ansible.builtin.file) and
    M(ansible.builtin.copy) delegated to localhost, which each start a Python process on the controller.
  - The report describes the host, it does not change it, so the files are written in check mode too and the
    task always reports C(changed=false).
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options:
  report:
    description:
      - The report (the C(patching_report) fact of the patching role).
    type: dict
    required: true
  dest:
    description:
      - Absolute controller directory of the reports. When empty, nothing is written.
    type: str
    default: ""
  name:
    description:
      - File name of the report without C(.json), normally the inventory host name. Must not contain C(/).
    type: str
    required: true
  dated_copy:
    description:
      - Also keep a copy named after the report's C(generated) timestamp (the patching role does so for runs
        that changed the host, outside check mode).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Writes the report in check mode too (a report about the host, not a change of it).
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller.
seealso:
  - module: aisec.gpu_host.csaf_match
"""

EXAMPLES = r"""
- name: Write the JSON report on the controller
  aisec.gpu_host.patch_report:
    report: "{{ patching_report }}"
    dest: "{{ patching_report_dir }}"
    name: "{{ inventory_hostname }}"
    dated_copy: "{{ not ansible_check_mode }}"
"""

RETURN = r"""
paths:
  description: The files written, the dated copy last; empty when O(dest) is empty.
  returned: success
  type: list
  elements: str
  sample: [/srv/reports/gpu-1.json, /srv/reports/gpu-1-20250102T030405Z.json]
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "report": {"type": "dict", "required": True},
    "dest": {"type": "str", "default": ""},
    "name": {"type": "str", "required": True},
    "dated_copy": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="aisec.gpu_host.patch_report runs as an action plugin on the controller; "
                         "it cannot be executed as a module on a managed host")


if __name__ == "__main__":
    main()

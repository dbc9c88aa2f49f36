# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_info
short_description: Read files, directories, packages and services in one call (the shared state reader of aisec.gpu_host roles)
version_added: "0.1.0"
description:
  - The state reader for roles of aisec.gpu_host that need nothing beyond the shared sections (the other roles have
    their own C(<role>_info) module with the same options plus role-specific ones). One call returns the C(stat) and
    sha256 of managed files, the text of small files the role parses, directory listings, installed package versions
    and systemd unit states.
  - The role renders its templates on the controller and compares their digests with RV(files), then runs
    M(ansible.builtin.template) or M(ansible.builtin.file) only for what differs, so a converged host costs this one
    round trip.
  - Changes nothing, in or outside check mode.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
options: {}
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
  - Runs on the target with the Python standard library only.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.package_facts
  - module: ansible.builtin.service_facts
"""

EXAMPLES = r"""
- name: Read the local fact file and its directory
  aisec.gpu_host.host_info:
    files: [/etc/ansible/facts.d, /etc/ansible/facts.d/aisec.fact]
  register: common_state

- name: Write the fact only when its digest differs
  ansible.builtin.template:
    src: aisec.fact.j2
    dest: /etc/ansible/facts.d/aisec.fact
    mode: "0644"
  when: common_state.files['/etc/ansible/facts.d/aisec.fact'].sha256 | default('') != lookup('ansible.builtin.template', 'aisec.fact.j2') | hash('sha256')
"""

RETURN = r"""files:
  description:
    - Per path of O(files), C(exists) (C(false) when missing, C(null) when it could not be examined), C(type)
      (C(file), C(directory), C(link), C(other)), C(mode) (four octal digits), C(owner), C(group), C(uid), C(gid),
      C(size), C(sha256) (regular files), C(target) (links) and C(error) when part of it could not be read.
  returned: always
  type: dict
  sample: {"/etc/sudoers.d/10-aisec-access": {"exists": true, "type": "file", "mode": "0440", "owner": "root",
           "group": "root", "uid": 0, "gid": 0, "size": 1432, "sha256": "9f2c..."}}
contents:
  description: Per path of O(contents), its text, or C(null) when it is missing, unreadable or too large.
  returned: always
  type: dict
directories:
  description: Per path of O(directories), the sorted entry names, or C(null) when it is missing.
  returned: always
  type: dict
packages:
  description: Per name of O(packages), the installed version, or C(null) when it is not installed.
  returned: always
  type: dict
  sample: {"openssh-server": "1:9.2p1-2+deb12u7", "libpam-u2f": null}
services:
  description:
    - Per unit of O(services), C(load) (C(loaded), C(not-found), ...), C(active) (C(active), C(inactive), ...) and
      C(enabled) (C(enabled), C(disabled), C(static), ...); C(unknown) without systemd.
  returned: always
  type: dict
  sample: {"nftables.service": {"load": "loaded", "active": "active", "enabled": "enabled"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aisec.gpu_host.plugins.module_utils import host_state


def main():
    module = AnsibleModule(argument_spec=dict(host_state.SPEC), supports_check_mode=True)
    module.exit_json(changed=False, **host_state.read(module.params))


if __name__ == "__main__":
    main()

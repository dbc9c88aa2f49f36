# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by the modules that compare an nftables table with a ruleset (module_utils/nft.py)."""

    DOCUMENTATION = r"""
options:
  family:
    description: Family of the table.
    type: str
    default: inet
    choices: [ip, ip6, inet, arp, bridge, netdev]
  ruleset_append:
    description:
      - Host files appended to the ruleset before the comparison (and the load) when they exist (content owned by
        another process, such as the emergency block list of C(playbooks/emergency_block.yml)).
    type: list
    elements: path
    default: []
  controls:
    description:
      - First-match list attributing each changed top-level object of the table (set, chain, ...) to a control id.
        C(match) is a name pattern (fnmatch, e.g. C(inu_*)) or C(hook:<hook>) for base chains of that hook (chains
        added by hand under names the role does not know).
    type: list
    elements: dict
    default: []
  default_control:
    description: Control of changed objects no entry of O(controls) matches.
    type: str
"""

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja2 filter building the per-host plan of the aisec.gpu_host.patching role.

The logic lives in ``plugins/module_utils/patch_plan.py``; the documentation in ``patch_plan.yml``
(``ansible-doc -t filter aisec.gpu_host.patch_plan``).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.module_utils import patch_plan as _patch_plan


def patch_plan(facts, match_result=None, options=None):
    """Plan of one host from its probe results, its csaf_match result and the role options."""
    try:
        return _patch_plan.build_plan(facts, match_result or {}, options or {})
    except _patch_plan.PatchPlanError as exc:
        raise AnsibleFilterError("patch_plan: %s" % exc) from None


class FilterModule:
    """aisec.gpu_host patching plan filter."""

    def filters(self):
        return {"patch_plan": patch_plan}

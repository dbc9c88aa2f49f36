# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja2 filter: which managed files drifted (plugins/module_utils/role_plan.py, files_drift)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.module_utils import role_plan as _rp


def files_drift(states, specs, rendered=None):
    """``{path: [reasons]}`` of the specs that differ from ``states`` (the ``files`` of a ``*_info`` module)."""
    if not isinstance(states, dict):
        raise AnsibleFilterError("files_drift input must be the files mapping of an *_info module")
    if not isinstance(specs, list) or not all(isinstance(s, dict) and "path" in s for s in specs):
        raise AnsibleFilterError("files_drift specs must be a list of mappings with a path")
    return _rp.files_drift(specs, states, dict(rendered or {}))


class FilterModule:
    """aisec.gpu_host files_drift filter."""

    def filters(self):
        return {"files_drift": files_drift}

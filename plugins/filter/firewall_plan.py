# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja2 filters of the aisec.gpu_host.firewall role: desired state, plan and emergency requests.

The logic lives in ``plugins/module_utils/firewall_plan.py``; the documentation in ``firewall_desired.yml``,
``firewall_plan.yml`` and ``firewall_emergency.yml`` (``ansible-doc -t filter aisec.gpu_host.firewall_plan``).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.module_utils import firewall_plan as _fw


def _mapping(value, what):
    if not isinstance(value, dict):
        raise AnsibleFilterError("%s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def firewall_desired(variables):
    """Validated, normalised desired state from the role's variables (a mapping of firewall_* names)."""
    return _fw.desired(_mapping(variables, "firewall_desired input"))


def firewall_plan(info, desired, files=None, rendered=None, stock_sha256=None, marker="", conf_overwrite=False):
    """What differs between the host (firewall_info result) and the desired state."""
    return _fw.plan(_mapping(info, "firewall_plan input"), _mapping(desired, "desired"), list(files or []),
                    dict(rendered or {}), tuple(stock_sha256 or ()), marker, bool(conf_overwrite))


def firewall_emergency(request, current=None, controller=None, live=None):
    """Validated emergency request and the new emergency state."""
    return _fw.emergency(_mapping(request, "firewall_emergency input"), current or {}, controller or {}, live)


class FilterModule:
    """aisec.gpu_host firewall filters."""

    def filters(self):
        return {"firewall_desired": firewall_desired, "firewall_plan": firewall_plan,
                "firewall_emergency": firewall_emergency}

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja2 filters of the aisec.gpu_host.access role: desired state, plan, lockout pre-flight and post-change checks.

The logic lives in ``plugins/module_utils/access_plan.py``; the documentation in ``access_desired.yml``,
``access_plan.yml``, ``access_login.yml``, ``access_checks.yml``, ``access_check_users.yml`` and
``access_pam_check.yml`` (``ansible-doc -t filter aisec.gpu_host.access_plan``).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_plan as _access


def _mapping(value, what):
    if not isinstance(value, dict):
        raise AnsibleFilterError("%s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def access_desired(variables):
    """Validated desired state from the role's variables (a mapping of access_* names)."""
    return _access.desired(_mapping(variables, "access_desired input"))


def access_plan(info, desired, rendered=None, login_user="", check_mode=False, variables=None):
    """What differs between the host (access_info result) and the desired state."""
    return _access.plan(_mapping(info, "access_plan input"), _mapping(desired, "desired"), dict(rendered or {}),
                        login_user or "", bool(check_mode), dict(variables or {}))


def access_login(desired, variables, login_user, connection="ssh", current_keys=None):
    """Why the connecting user would lose its login ([] when it keeps it)."""
    return _access.login(_mapping(desired, "access_login input"), dict(variables or {}), login_user or "",
                         connection or "ssh", list(current_keys or []))


def access_checks(info, desired, variables):
    """Failures of the post-change checks ([] when everything holds)."""
    return _access.checks(_mapping(info, "access_checks input"), _mapping(desired, "desired"), dict(variables or {}))


def access_check_users(desired):
    """One user per managed class for the post-change sshd check."""
    return _access.check_users(_mapping(desired, "access_check_users input"))


def access_pam_check(info, desired):
    """pam-auth-update profiles still not in the wanted state."""
    return _access.pam_check(_mapping(info, "access_pam_check input"), _mapping(desired, "desired"))


class FilterModule:
    """aisec.gpu_host access filters."""

    def filters(self):
        return {"access_desired": access_desired, "access_plan": access_plan, "access_login": access_login,
                "access_checks": access_checks, "access_check_users": access_check_users,
                "access_pam_check": access_pam_check}

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for aisec.gpu_host.csaf_sync: runs the trusted CSAF download on the controller."""

from __future__ import annotations

import traceback

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_sync import (
    ARGUMENT_SPEC,
    SyncError,
    build_options,
    run_sync,
)


class ActionModule(ActionBase):
    """Download, verify and mirror CSAF advisories; never touches the managed host."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        try:
            _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        except AnsibleActionFail as exc:
            result.update(failed=True, msg="csaf_sync: %s" % to_native(exc.message))
            return result

        base_dir = self._loader.get_basedir() if self._loader is not None else None
        try:
            options = build_options(args, check_mode=bool(self._play_context.check_mode), base_dir=base_dir)
            summary = run_sync(options)
        except SyncError as exc:
            result.update(failed=True, changed=False, msg="csaf_sync: %s" % to_native(exc))
            return result
        except Exception as exc:  # pylint: disable=broad-except
            # Never a bare traceback for the user: say what failed; the trace is shown with -vvv.
            result.update(
                failed=True,
                changed=False,
                msg="csaf_sync: internal error (%s: %s); please report it" % (type(exc).__name__, to_native(exc)),
                exception=traceback.format_exc(),
            )
            return result

        result.update(summary)
        if summary.get("sync_warnings"):
            result["warnings"] = list(summary["sync_warnings"])
        return result

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for aisec.gpu_host.patch_report: write a patching report as JSON on the controller."""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase
from ansible.plugins.filter.core import to_nice_json

from ansible_collections.aisec.gpu_host.plugins.module_utils.atomic_file import write_atomic

ARGUMENT_SPEC = {
    "report": {"type": "dict", "required": True},
    "dest": {"type": "str", "default": ""},
    "name": {"type": "str", "required": True},
    "dated_copy": {"type": "bool", "default": False},
}
DIR_MODE = 0o750
FILE_MODE = 0o640
_NAME_RE = re.compile(r"^[^/\x00]+\Z")


def render(report):
    """The file content: the report as ``to_nice_json(sort_keys=true)`` plus a final newline."""
    return to_nice_json(report, sort_keys=True) + "\n"


def dated_name(name, generated):
    """``<name>-<generated without - and :>``: ``gpu-1`` + ``2025-01-02T03:04:05Z`` -> ``gpu-1-20250102T030405Z``."""
    stamp = str(generated or "").replace("-", "").replace(":", "")
    if not stamp or not _NAME_RE.match(stamp):
        raise AnsibleActionFail("patch_report: dated_copy needs report.generated (a timestamp), got %r" % (generated,))
    return "%s-%s" % (name, stamp)


def ensure_dir(path):
    """Create ``path`` (and missing parents) with mode 0750; an existing directory gets mode 0750 too."""
    if not os.path.isdir(path):
        missing = []
        head = path
        while head and not os.path.exists(head):
            missing.append(head)
            head = os.path.dirname(head)
        for directory in reversed(missing):
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)  # not narrowed by the umask
        if not os.path.isdir(path):
            raise AnsibleActionFail("patch_report: %s is not a directory" % path)
    elif os.stat(path).st_mode & 0o7777 != DIR_MODE:
        os.chmod(path, DIR_MODE)


def write_report(report, dest, name, dated_copy=False):
    """Write ``<dest>/<name>.json`` (and ``<dest>/<dated name>.json``); return the paths written."""
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise AnsibleActionFail("patch_report: name must be a file name without /, got %r" % (name,))
    if not dest:
        return []
    if not os.path.isabs(dest):
        raise AnsibleActionFail("patch_report: dest must be an absolute controller path, got %r" % (dest,))
    names = [name] + ([dated_name(name, report.get("generated"))] if dated_copy else [])
    data = to_bytes(render(report))
    ensure_dir(dest)
    paths = []
    for base in names:
        path = os.path.join(dest, base + ".json")
        write_atomic(path, data, FILE_MODE)
        paths.append(path)
    return paths


class ActionModule(ActionBase):
    """Runs entirely on the controller; never connects to the host. Writes in check mode too (a report)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no remote temporary directory is used
        validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(dict(self._task.args))
        if validation.error_messages:
            raise AnsibleActionFail("Invalid arguments for aisec.gpu_host.patch_report: %s"
                                    % "; ".join(to_native(m) for m in validation.error_messages))
        args = validation.validated_parameters
        try:
            paths = write_report(args["report"], args["dest"], args["name"], args["dated_copy"])
        except (OSError, TypeError, ValueError) as exc:
            raise AnsibleActionFail("patch_report: cannot write the report to %s: %s" % (args["dest"], to_native(exc)))
        result["changed"] = False  # a report about the host, not a change of it
        result["paths"] = paths
        result["msg"] = ("report written: %s" % ", ".join(paths)) if paths else "no report directory: nothing written"
        return result

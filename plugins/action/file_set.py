# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for aisec.gpu_host.file_set: check the entries, render templates, run the module once."""

from __future__ import annotations

import datetime
import os
import pwd
import time

from jinja2.defaults import (
    BLOCK_END_STRING,
    BLOCK_START_STRING,
    COMMENT_END_STRING,
    COMMENT_START_STRING,
    VARIABLE_END_STRING,
    VARIABLE_START_STRING,
)

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.aisec.gpu_host.plugins.module_utils.file_set import normalize_entries

MODULE = "aisec.gpu_host.file_set"

#: The Jinja settings of ansible.builtin.template's defaults.
TEMPLATE_OVERRIDES = dict(
    block_start_string=BLOCK_START_STRING,
    block_end_string=BLOCK_END_STRING,
    variable_start_string=VARIABLE_START_STRING,
    variable_end_string=VARIABLE_END_STRING,
    comment_start_string=COMMENT_START_STRING,
    comment_end_string=COMMENT_END_STRING,
    trim_blocks=True,
    lstrip_blocks=False,
    newline_sequence="\n",
)

#: Keys passed on to the module for each entry (src and vars are consumed here).
MODULE_KEYS = ("path", "state", "content", "owner", "group", "validate", "force", "exclusive", "controls")


def template_vars(src, fullpath, dest, task_vars):
    """The variables ansible.builtin.template adds (``template_*`` and, unless set, ``ansible_managed``)."""
    st = os.stat(fullpath)
    try:
        uid = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        uid = st.st_uid
    out = dict(
        template_host=os.uname()[1],
        template_path=src,
        template_mtime=datetime.datetime.fromtimestamp(st.st_mtime),
        template_uid=uid,
        template_run_date=datetime.datetime.now(),
        template_destpath=dest,
        template_fullpath=fullpath,
    )
    if "ansible_managed" not in task_vars:
        managed = C.config.get_config_value("DEFAULT_MANAGED_STR").format(
            host="{{ template_host }}", uid="{{ template_uid }}", file="{{ template_path }}")
        out["ansible_managed"] = trust_as_template(time.strftime(managed, time.localtime(st.st_mtime)))
    return out


class ActionModule(ActionBase):
    """Renders on the controller, then one module run on the target for every entry."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def _render(self, entry, task_vars):
        """Render ``entry['src']`` like ansible.builtin.template does."""
        where = "files[%d] (%s): src %s" % (entry["index"], entry["path"], entry["src"])
        try:
            source = self._find_needle("templates", entry["src"])
        except AnsibleError as exc:
            raise AnsibleActionFail("%s: %s" % (where, to_text(exc)))
        try:
            data = trust_as_template(self._loader.get_text_file_contents(source))
            searchpath = list(task_vars.get("ansible_search_path", []))
            searchpath.extend([self._loader._basedir, os.path.dirname(source)])
            paths = []
            for p in searchpath:
                paths.extend([os.path.join(p, "templates"), p])
            variables = task_vars.copy()
            variables.update(template_vars(entry["src"], source, entry["path"], task_vars))
            variables.update(entry["vars"] or {})
            templar = self._templar.copy_with_new_env(searchpath=paths, available_variables=variables)
            rendered = templar.template(data, escape_backslashes=False, overrides=dict(TEMPLATE_OVERRIDES))
        except AnsibleError as exc:
            raise AnsibleActionFail("%s: %s" % (where, to_text(exc)))
        if rendered is None:
            return ""
        return rendered if isinstance(rendered, str) else to_text(rendered)

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # not used

        unknown = sorted(str(k) for k in self._task.args if k not in ("files", "before_change"))
        if unknown:
            raise AnsibleActionFail("%s: unsupported parameter(s) %s (only 'files' and 'before_change' are accepted)"
                                    % (MODULE, ", ".join(unknown)))
        before_change = self._task.args.get("before_change")
        if before_change is not None and (
                not isinstance(before_change, list) or not before_change
                or not all(isinstance(a, (str, int)) and str(a) for a in before_change)):
            raise AnsibleActionFail("%s: before_change must be a non-empty list of command arguments" % MODULE)
        if "files" not in self._task.args:
            raise AnsibleActionFail("%s: missing required argument 'files'" % MODULE)
        entries, errors = normalize_entries(self._task.args["files"])
        if errors:
            raise AnsibleActionFail("%s: invalid files: %s" % (MODULE, "; ".join(errors)))

        module_files = []
        for entry in entries:
            item = dict((k, entry[k]) for k in MODULE_KEYS if entry[k] is not None)
            if entry["mode_text"] is not None:
                item["mode"] = entry["mode_text"]
            if entry["src"] is not None:
                item["content"] = self._render(entry, task_vars)
            module_files.append(item)

        try:
            module_args = {"files": module_files}
            if before_change is not None:
                module_args["before_change"] = [str(a) for a in before_change]
            result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

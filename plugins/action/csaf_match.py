# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for aisec.gpu_host.csaf_match: match components against CSAF files on the controller."""

from __future__ import annotations

import json
import os

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document
from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_match import (
    ARGUMENT_SPEC,
    MatchError,
    gc_paused,
    match,
    validate_components,
    validate_options,
)

#: Largest CSAF file read (CSAF 2.0 section 7: consumers handle 15 MB documents).
MAX_DOCUMENT_SIZE = csaf_document.DEFAULT_MAX_SIZE
#: The index a csaf_sync mirror keeps in its root (module_utils.csaf_sync.INDEX_NAME / INDEX_FORMAT).
SYNC_INDEX_NAME = "index.json"
SYNC_INDEX_FORMAT = "aisec.gpu_host.csaf_sync/1"
MAX_INDEX_SIZE = 256 * 1024 * 1024


def collect_files(paths):
    """Return (sorted list of JSON files, list of problems) under ``paths`` (files or directories).

    Directories are walked recursively without following symbolic links to directories;
    hidden entries (``.git``) are skipped. Only ``*.json`` files are taken.
    """
    files = []
    problems = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith(".") or not name.lower().endswith(".json"):
                        continue
                    files.append(os.path.join(root, name))
        elif os.path.isfile(path):
            files.append(path)
        else:
            problems.append("documents: %s is neither a file nor a directory" % path)
    seen = set()
    unique = []
    for f in files:
        real = os.path.realpath(f)
        if real not in seen:
            seen.add(real)
            unique.append(f)
    return unique, problems


def load_documents(files, max_size=MAX_DOCUMENT_SIZE):
    """Read and parse files: (list of (path, doc), rejected list, skipped count).

    Files that are JSON but not CSAF (no top-level ``document`` object, for example the
    ``CVE-*.json`` records next to NVIDIA's bulletins or a provider-metadata.json) are
    skipped; unreadable, oversized or malformed files are rejected with the reason.
    """
    docs = []
    rejected = []
    skipped = 0
    for path in files:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(max_size + 1)
        except OSError as exc:
            rejected.append({"source": path, "tracking_id": None, "reasons": ["cannot read: %s" % to_native(exc)],
                             "components": None})
            continue
        try:
            doc = csaf_document.load_bytes(raw, max_size=max_size)
        except csaf_document.CsafError as exc:
            # Unreadable: it may name any component, so csaf_match reports it for every one.
            rejected.append({"source": path, "tracking_id": None, "reasons": [to_native(exc)], "components": None})
            continue
        if not isinstance(doc.get("document"), dict):
            skipped += 1
            continue
        docs.append((path, doc))
    return docs, rejected, skipped


def mirror_rejections(paths):
    """Documents csaf_sync rejected, from the ``index.json`` of each mirror directory in ``paths``.

    Returns ``(rejected entries for csaf_match, warnings)``. The entries keep the components each
    document names (None: unknown, reported for every component). An index that cannot be read is
    itself reported for every component: the mirror's completeness is then unknown.
    """
    out, warnings = [], []
    for path in paths:
        index_path = os.path.join(path, SYNC_INDEX_NAME)
        if not os.path.isdir(path) or not os.path.isfile(index_path):
            continue
        try:
            with open(index_path, "rb") as fh:
                raw = fh.read(MAX_INDEX_SIZE + 1)
            if len(raw) > MAX_INDEX_SIZE:
                raise ValueError("larger than %d bytes" % MAX_INDEX_SIZE)
            index = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            out.append({"source": index_path, "tracking_id": None, "components": None,
                        "reasons": ["the csaf_sync index cannot be read (%s): which documents the mirror lacks is "
                                    "unknown" % to_native(exc)]})
            continue
        if not isinstance(index, dict) or index.get("format") != SYNC_INDEX_FORMAT:
            continue  # not a csaf_sync mirror; its index.json, if any, is no CSAF document either
        rejected = index.get("rejected")
        if rejected is None:
            warnings.append("%s was written by an older csaf_sync that did not record rejected documents; run "
                            "csaf_sync again so that csaf_match can report them" % index_path)
            continue
        for item in rejected if isinstance(rejected, list) else []:
            if not isinstance(item, dict):
                continue
            components = item.get("components")
            reasons = item.get("reasons") if isinstance(item.get("reasons"), list) else [item.get("reason")]
            previous = " (csaf_match uses the previously verified version)" if item.get("kept_previous") else ""
            out.append({
                "source": "%s (csaf_sync source of %s)" % (item.get("source"), path),
                "tracking_id": item.get("tracking_id") if isinstance(item.get("tracking_id"), str) else None,
                "reasons": ["rejected by csaf_sync: %s%s" % (to_native(r), previous) for r in reasons if r],
                "components": components if isinstance(components, list) else None,
            })
    return out, warnings


def numeric_versions(components):
    """Messages for component versions YAML turned into numbers (``1.10`` -> ``1.1``) before type conversion."""
    out = []
    if isinstance(components, list):
        for i, comp in enumerate(components):
            version = comp.get("version") if isinstance(comp, dict) else None
            if isinstance(version, (int, float)) and not isinstance(version, bool):
                out.append("components[%d].version %r is a number, not a string: quote it in YAML "
                           "(1.10 would otherwise become 1.1)" % (i, version))
    return out


def parse_inline_list(value):
    """Accept ``components=[{...}]`` given as one JSON or YAML string (ad hoc ``-a 'k=v'`` use)."""
    if not isinstance(value, str) or not value.strip().startswith("["):
        return value
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise AnsibleActionFail("components: cannot parse %r as a JSON or YAML list: %s" % (value, to_native(exc)))


class ActionModule(ActionBase):
    """Runs entirely on the controller; never connects to the host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no remote temporary directory is used

        raw_args = dict(self._task.args)
        if "components" in raw_args:
            raw_args["components"] = parse_inline_list(raw_args["components"])
            numeric = numeric_versions(raw_args["components"])
            if numeric:
                raise AnsibleActionFail("; ".join(numeric))
        validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(raw_args)
        if validation.error_messages:
            messages = []
            for err in validation.errors.errors:
                text = to_native(err)
                messages.append(("unsupported parameter " + text) if isinstance(err, UnsupportedError) else text)
            raise AnsibleActionFail("Invalid arguments for aisec.gpu_host.csaf_match: %s" % "; ".join(messages))
        args = validation.validated_parameters
        paths = [self._loader.path_dwim(p) for p in args["documents"]]
        files, problems = collect_files(paths)
        if problems:
            raise AnsibleActionFail("; ".join(problems))
        options = {
            "validate": args["validate"],
            "schema": args["schema"],
            "strict": args["strict"],
            "vendor_adapters": args["vendor_adapters"],
            "platforms": args["platforms"],
        }
        components = [{k: v for k, v in c.items() if v is not None} for c in args["components"]]
        try:  # fail before reading any file
            validate_options(options)
            validate_components(components)
        except MatchError as exc:
            raise AnsibleActionFail(to_native(exc))
        with gc_paused():  # parsing thousands of JSON files: see gc_paused
            docs, rejected, skipped = load_documents(files)
        synced, index_warnings = mirror_rejections(paths)
        for warning in index_warnings:
            self._display.warning("csaf_match: " + warning)
        try:
            report = match(docs, components, options, rejected=synced + rejected)
        except MatchError as exc:
            raise AnsibleActionFail(to_native(exc))
        report["documents"]["files"] = len(files)
        report["documents"]["skipped"] = skipped
        if not files:
            self._display.warning("csaf_match: no *.json files found under %s" % ", ".join(paths))
        elif not report["documents"]["loaded"]:
            self._display.warning("csaf_match: none of the %d JSON files is a usable CSAF document" % len(files))
        result.update(report)
        result["changed"] = False
        result["msg"] = summary_message(report)
        return result


def summary_message(report):
    """One line: findings, affected components, undecided components and why (first reasons)."""
    summary = report["summary"]
    affected = sorted(k for k, s in summary.items() if s["status"] == "affected")
    undecided = sorted(k for k, s in summary.items() if s.get("undecided"))
    branch = sorted(k for k, s in summary.items() if s.get("branch_change_required"))
    parts = ["%d finding(s) for %d component(s) from %d CSAF document(s)" % (
        len(report["findings"]), len(summary), report["documents"]["loaded"])]
    if affected:
        parts.append("affected: " + ", ".join(affected))
    if branch:
        parts.append("branch change needed: " + ", ".join(
            "%s (to %s)" % (k, summary[k].get("branch_change_version") or "a listed branch") for k in branch))
    if undecided:
        parts.append("UNDECIDED (not verified as not affected): " + "; ".join(
            "%s: %s" % (k, summary[k]["undecided_reasons"][0] + (
                " (+%d more)" % (len(summary[k]["undecided_reasons"]) - 1)
                if len(summary[k]["undecided_reasons"]) > 1 else ""))
            for k in undecided))
    rejected = report["documents"]["rejected"]
    if rejected:
        parts.append("%d document(s) could not be used" % len(rejected))
    outside = report.get("outside_vocabulary") or {}
    if outside.get("products"):
        parts.append("%d product(s) of %d document(s) outside the component vocabulary ignored" % (
            outside["products"], outside["documents"]))
    return "; ".join(parts)

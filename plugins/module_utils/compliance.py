# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Report building for the ``aisec.gpu_host.compliance_report`` callback.

Everything here is pure and free of Ansible objects, so it can be unit-tested in isolation:
the callback turns each task result into plain values and feeds them to
:class:`ComplianceCollector`; :func:`build_report` turns the collected data into the
``report.json`` document (described by :data:`REPORT_SCHEMA`), which :func:`render_json`,
:func:`render_junit`, :func:`render_html` and :func:`render_summary_table` render.

Status of one task result on one host (:func:`task_status`):

* ``pass``: ok and not changed;
* ``drift``: changed while the task ran in check mode (the host differs from the baseline);
* ``fixed``: changed in normal mode (the run corrected the host);
* ``failed``: failed or unreachable, including failures ignored with ``ignore_errors``
  (flagged ``ignored_errors`` on the task);
* ``not_applicable``: skipped.

A control's status on a host is the worst status of its tasks, in the order
``failed`` > ``drift`` > ``fixed`` > ``pass`` > ``not_applicable``, so a control is
``not_applicable`` only when every one of its tasks was skipped.

Result payloads are never stored: only the failure message (``msg``) of failed tasks, masked
when ``no_log`` applies, and whether a diff was produced.

Tasks tagged :data:`EXCLUDE_TAG` are not recorded at all: they act on the report itself (the
drift gate at the end of ``playbooks/audit.yml``), not on a host.

:func:`drift_by_host` condenses a report into what a drift gate needs: which controls drifted or
failed on which host.

Only the Python standard library is used.
"""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET

SCHEMA_VERSION = "1.0"
GENERATOR = "aisec.gpu_host.compliance_report"
DEFAULT_DIR_NAME = "compliance-report"
RUNNER_ENV_VAR = "AWX_ISOLATED_DATA_DIR"
FILE_NAMES = {"json": "report.json", "junit": "junit.xml", "html": "report.html"}

CONTROL_ID_RE = re.compile(r"^AISEC-[A-Z]+-[0-9]{2}$")

# Tasks carrying this tag are never recorded (they read or gate on the report; they are not
# results of a control on a host).
EXCLUDE_TAG = "aisec_report_exclude"

# Environment variables the callback sets in the ansible-playbook process when a run starts, so that
# tasks of the same run (forked from that process) can find and identify the progressive snapshot.
SNAPSHOT_ENV_VAR = "AISEC_COMPLIANCE_SNAPSHOT"
RUN_ID_ENV_VAR = "AISEC_COMPLIANCE_RUN_ID"

PASS = "pass"
DRIFT = "drift"
FIXED = "fixed"
FAILED = "failed"
NOT_APPLICABLE = "not_applicable"
# Worst first.
STATUSES = (FAILED, DRIFT, FIXED, PASS, NOT_APPLICABLE)
STATUS_LABELS = {PASS: "pass", DRIFT: "drift", FIXED: "fixed", FAILED: "failed", NOT_APPLICABLE: "n/a"}
_SEVERITY = {NOT_APPLICABLE: 0, PASS: 1, FIXED: 2, DRIFT: 3, FAILED: 4}

OUTCOMES = ("ok", "failed", "unreachable", "skipped")

NO_LOG_MESSAGE = "output hidden: no_log is set for this task"
MAX_MESSAGE_LENGTH = 1024

# Actions whose own "ok" result says nothing about a control: includes only load tasks (their
# tasks report themselves) and meta tasks do not touch the host. Their skipped or failed results
# still count, so a skipped include_role marks its controls not_applicable.
_STRUCTURAL_ACTIONS = frozenset(
    prefix + name
    for name in ("include_tasks", "include_role", "import_tasks", "import_role", "meta")
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
)

# Characters XML 1.0 cannot carry (C0 controls except tab, LF, CR; surrogates; U+FFFE/U+FFFF).
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MD_ROW_RE = re.compile(r"^\s*\|\s*`?(AISEC-[A-Z]+-[0-9]{2})`?\s*\|([^|]*)\|")


class ComplianceError(ValueError):
    """Raised for invalid input to the report functions."""


# --------------------------------------------------------------------------------------------
# Classification


def control_ids(tags) -> list[str]:
    """Return the sorted, de-duplicated control ids among ``tags``.

    ``tags`` may be ``None`` or any iterable; entries that are not strings matching
    ``^AISEC-[A-Z]+-[0-9]{2}$`` (after stripping whitespace) are ignored.
    """
    if not tags:
        return []
    if isinstance(tags, str):
        tags = [tags]
    found = set()
    for tag in tags:
        if isinstance(tag, str):
            tag = tag.strip()
            if CONTROL_ID_RE.match(tag):
                found.add(tag)
    return sorted(found)


def is_excluded(tags) -> bool:
    """True when ``tags`` carry :data:`EXCLUDE_TAG` (the task is not recorded)."""
    if not tags:
        return False
    if isinstance(tags, str):
        tags = [tags]
    return any(isinstance(tag, str) and tag.strip() == EXCLUDE_TAG for tag in tags)


def is_structural_action(action) -> bool:
    """True for include/import and meta actions, whose ok result is not a control result."""
    return isinstance(action, str) and action in _STRUCTURAL_ACTIONS


def task_status(outcome: str, changed: bool = False, check_mode: bool = False) -> str:
    """Map one task result to a status (see the module docstring)."""
    if outcome not in OUTCOMES:
        raise ComplianceError("unknown task outcome %r; expected one of %s" % (outcome, ", ".join(OUTCOMES)))
    if outcome in ("failed", "unreachable"):
        return FAILED
    if outcome == "skipped":
        return NOT_APPLICABLE
    if changed:
        return DRIFT if check_mode else FIXED
    return PASS


def worst_status(statuses) -> str:
    """Return the worst of ``statuses``; ``not_applicable`` when there are none."""
    worst = NOT_APPLICABLE
    for status in statuses:
        if status not in _SEVERITY:
            raise ComplianceError("unknown status %r; expected one of %s" % (status, ", ".join(STATUSES)))
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    return worst


def empty_counts() -> dict[str, int]:
    """A status -> count mapping with every status at zero."""
    return dict((status, 0) for status in STATUSES)


def sanitize_message(message, no_log: bool = False, limit: int = MAX_MESSAGE_LENGTH):
    """Return a failure message safe to write to a report.

    ``None`` stays ``None``; with ``no_log`` a fixed placeholder replaces the message; other
    values are converted to text, stripped of control characters and truncated to ``limit``.
    """
    if no_log:
        return NO_LOG_MESSAGE
    if message is None:
        return None
    if not isinstance(message, str):
        try:
            message = json.dumps(message, sort_keys=True, default=str)
        except (TypeError, ValueError):
            message = str(message)
    message = _XML_INVALID_RE.sub("", message).strip()
    if len(message) > limit:
        message = message[: max(limit - 3, 0)] + "..."
    return message


# --------------------------------------------------------------------------------------------
# Collection metadata and configuration


def parse_control_descriptions(markdown: str) -> dict[str, str]:
    """Read ``control id -> description`` from the table rows of ``docs/controls.md``.

    The description is the second column; Markdown emphasis and code markers are removed.
    Rows that do not start with a control id are ignored, so any table layout is tolerated.
    """
    descriptions = {}
    if not isinstance(markdown, str):
        return descriptions
    for line in markdown.splitlines():
        match = _MD_ROW_RE.match(line)
        if not match:
            continue
        text = re.sub(r"\*\*|__|`", "", match.group(2)).strip()
        descriptions.setdefault(match.group(1), text)
    return descriptions


def collection_version_from_manifest(text: str):
    """Return ``collection_info.version`` from a ``MANIFEST.json`` text, or ``None``."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    info = data.get("collection_info") if isinstance(data, dict) else None
    version = info.get("version") if isinstance(info, dict) else None
    return version if isinstance(version, str) and version else None


def collection_version_from_galaxy(text: str):
    """Return the top-level ``version`` of a ``galaxy.yml`` text, or ``None``."""
    if not isinstance(text, str):
        return None
    match = re.search(r"""^version:[ \t]*["']?([^"'\s#]+)""", text, re.MULTILINE)
    return match.group(1) if match else None


def resolve_output_dir(option, environ, cwd: str) -> tuple[str, str]:
    """Choose where the reports go; return ``(absolute directory, source)``.

    * ``option`` (the ``output_dir`` option, set by ini, environment or variable) wins:
      source ``option``; a relative path is taken relative to ``cwd``.
    * Under ansible-runner (and so AWX / Automation Controller), which exports the job's
      artifact directory to ansible-playbook as ``AWX_ISOLATED_DATA_DIR``:
      ``<artifact dir>/compliance-report``, source ``ansible-runner``.
    * Otherwise ``<cwd>/compliance-report``, source ``default``.
    """
    if option:
        return os.path.normpath(os.path.join(cwd, os.path.expanduser(str(option)))), "option"
    artifact_dir = environ.get(RUNNER_ENV_VAR) if environ else None
    if artifact_dir:
        return os.path.normpath(os.path.join(cwd, artifact_dir, DEFAULT_DIR_NAME)), "ansible-runner"
    return os.path.normpath(os.path.join(cwd, DEFAULT_DIR_NAME)), "default"


# --------------------------------------------------------------------------------------------
# Collection


class ComplianceCollector:
    """Accumulates task results per host and control id."""

    def __init__(self, descriptions=None):
        self.descriptions = dict(descriptions or {})
        self._hosts = {}

    def _host(self, host: str) -> dict:
        if not isinstance(host, str) or not host:
            raise ComplianceError("host must be a non-empty string, got %r" % (host,))
        if host not in self._hosts:
            self._hosts[host] = {
                "unreachable": False,
                "controls": {},
                "untagged_tasks": empty_counts(),
                "stats": None,
            }
        return self._hosts[host]

    @property
    def hosts(self) -> list[str]:
        """Host names seen so far, sorted."""
        return sorted(self._hosts)

    def add_result(self, host, tags, outcome, task_id, name, role=None, action=None,
                   changed=False, check_mode=False, ignored=False, handler=False,
                   message=None, no_log=False, diff=False, items=0, duration=None, path=None,
                   changed_controls=None):
        """Record one task result for ``host``; return its status, or ``None`` if not recorded.

        ``tags`` are the task's (inherited) tags; the result is recorded once under each
        control id among them. Results of tasks without a control id only count in the host's
        ``untagged_tasks``. ``task_id`` identifies the task (Ansible's task uuid): a task that
        runs again on the same host is merged into one entry (worst status, ``runs`` counted).
        The ok result of an include/import/meta task is ignored (its tasks report themselves), and so
        is every result of a task tagged :data:`EXCLUDE_TAG`.

        ``changed_controls`` narrows a changed ok result of a task that enforces several controls in one
        action (``aisec.gpu_host.nft_table`` returns it): when it is a list, only the task's control ids in it
        are recorded as changed (drift in check mode, fixed otherwise) and the others as pass. ``None`` (the
        result did not say) keeps the whole task's status for every control id. Returns the task's status.
        """
        status = task_status(outcome, changed, check_mode)
        if outcome == "ok" and is_structural_action(action):
            return None
        if is_excluded(tags):
            return None
        entry_host = self._host(host)
        if outcome == "unreachable":
            entry_host["unreachable"] = True
        ids = control_ids(tags)
        if not ids:
            entry_host["untagged_tasks"][status] += 1
            return status
        record = {
            "name": str(name) if name is not None else "",
            "role": str(role) if role else None,
            "action": str(action) if action else None,
            "path": str(path) if path else None,
            "handler": bool(handler),
            "status": status,
            "check_mode": bool(check_mode),
            "changed": bool(changed),
            "diff": bool(diff),
            "items": int(items or 0),
            "ignored_errors": bool(ignored) and status == FAILED,
            "unreachable": outcome == "unreachable",
            "no_log": bool(no_log),
            "message": sanitize_message(message, no_log) if status == FAILED else None,
            "runs": 1,
            "duration_s": round(float(duration), 3) if duration is not None else None,
        }
        if status == FAILED and record["message"] is None:
            record["message"] = "host unreachable" if outcome == "unreachable" else "task failed"
        narrowed = None
        if outcome == "ok" and changed and isinstance(changed_controls, (list, tuple, set, frozenset)):
            narrowed = set(control_ids(list(changed_controls)))
        for control in ids:
            control_record = dict(record)
            if narrowed is not None and control not in narrowed:
                control_record.update(status=PASS, changed=False, diff=False)
            control_entry = entry_host["controls"].setdefault(control, {"tasks": {}})
            tasks = control_entry["tasks"]
            if task_id in tasks:
                _merge_task(tasks[task_id], control_record)
            else:
                tasks[task_id] = control_record
        return status

    def set_host_stats(self, host: str, stats) -> None:
        """Attach Ansible's per-host play recap (``ok``, ``changed``, ``failures``, ...)."""
        entry = self._host(host)
        entry["stats"] = dict((str(k), int(v)) for k, v in (stats or {}).items() if isinstance(v, int))

    def host_data(self) -> dict:
        """Per-host data in report form (see ``hosts`` in :data:`REPORT_SCHEMA`)."""
        result = {}
        for host in self.hosts:
            raw = self._hosts[host]
            controls = {}
            for control in sorted(raw["controls"]):
                tasks = list(raw["controls"][control]["tasks"].values())
                counts = empty_counts()
                for task in tasks:
                    counts[task["status"]] += 1
                controls[control] = {
                    "status": worst_status(t["status"] for t in tasks),
                    "description": self.descriptions.get(control),
                    "counts": counts,
                    "ignored_failures": sum(1 for t in tasks if t["ignored_errors"]),
                    "unreachable": any(t["unreachable"] for t in tasks),
                    "duration_s": round(sum(t["duration_s"] or 0.0 for t in tasks), 3),
                    "tasks": [dict(t) for t in tasks],
                }
            statuses = [c["status"] for c in controls.values()]
            if raw["unreachable"] or raw["untagged_tasks"][FAILED]:
                statuses.append(FAILED)
            result[host] = {
                "status": worst_status(statuses),
                "unreachable": raw["unreachable"],
                "controls": controls,
                "untagged_tasks": dict(raw["untagged_tasks"]),
                "stats": dict(raw["stats"]) if raw["stats"] is not None else None,
            }
        return result


def _merge_task(existing: dict, new: dict) -> None:
    existing["status"] = worst_status((existing["status"], new["status"]))
    for key in ("check_mode", "changed", "diff", "ignored_errors", "unreachable", "no_log"):
        existing[key] = existing[key] or new[key]
    existing["items"] += new["items"]
    existing["runs"] += 1
    if existing["message"] is None:
        existing["message"] = new["message"]
    if new["duration_s"] is not None:
        existing["duration_s"] = round((existing["duration_s"] or 0.0) + new["duration_s"], 3)


# --------------------------------------------------------------------------------------------
# Report


def build_report(collector: ComplianceCollector, run: dict) -> dict:
    """Assemble the ``report.json`` document from ``collector`` and the run metadata ``run``."""
    if not isinstance(run, dict):
        raise ComplianceError("run metadata must be a mapping")
    hosts = collector.host_data()
    summary = {}
    totals_controls = empty_counts()
    totals_tasks = empty_counts()
    hosts_by_status = empty_counts()
    ignored = 0
    for host, data in hosts.items():
        hosts_by_status[data["status"]] += 1
        for control, centry in data["controls"].items():
            row = summary.setdefault(control, dict(empty_counts(), description=centry["description"], hosts=0))
            row[centry["status"]] += 1
            row["hosts"] += 1
            totals_controls[centry["status"]] += 1
            ignored += centry["ignored_failures"]
            for status, count in centry["counts"].items():
                totals_tasks[status] += count
    totals = {
        "hosts": len(hosts),
        "hosts_by_status": hosts_by_status,
        "control_ids": len(summary),
        "controls": totals_controls,
        "tasks": totals_tasks,
        "ignored_failures": ignored,
        "unreachable_hosts": sum(1 for data in hosts.values() if data["unreachable"]),
    }
    totals["compliant"] = (
        totals_controls[FAILED] == 0 and totals_controls[DRIFT] == 0 and hosts_by_status[FAILED] == 0
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": GENERATOR,
        "run": dict(run),
        "hosts": hosts,
        "summary": dict((control, summary[control]) for control in sorted(summary)),
        "totals": totals,
    }


def drift_by_host(report: dict) -> dict:
    """Per host with a drifting or failed control: ``{"drift": [ids], "failed": [ids], "unreachable": bool}``.

    Hosts whose controls all pass, were fixed or are not applicable are left out; a host that failed
    outside any control (unreachable, or an untagged task failed) is listed with its ``failed`` list
    possibly empty. Control ids are sorted.
    """
    out = {}
    for host, data in (report.get("hosts") or {}).items():
        controls = data.get("controls") or {}
        drift = sorted(cid for cid, entry in controls.items() if entry.get("status") == DRIFT)
        failed = sorted(cid for cid, entry in controls.items() if entry.get("status") == FAILED)
        if drift or failed or data.get("status") == FAILED:
            out[host] = {"drift": drift, "failed": failed, "unreachable": bool(data.get("unreachable"))}
    return out


def render_drift_lines(report: dict) -> list:
    """One console line per host with drifting or failed controls (empty when there are none)."""
    lines = []
    for host, entry in drift_by_host(report).items():
        parts = []
        if entry["drift"]:
            parts.append("drift: " + ", ".join(entry["drift"]))
        if entry["failed"]:
            parts.append("failed: " + ", ".join(entry["failed"]))
        if entry["unreachable"]:
            parts.append("unreachable")
        elif not parts:
            parts.append("failed outside any control")
        lines.append("%s: %s" % (host, "; ".join(parts)))
    return lines


def render_json(report: dict) -> str:
    """``report.json`` text (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _xml_text(value) -> str:
    return _XML_INVALID_RE.sub("", "" if value is None else str(value))


def _check_flag(task: dict, run_check_mode):
    """Label for a task whose check mode differs from the run's (``None``: always label check mode)."""
    if run_check_mode is None:
        return "check mode" if task["check_mode"] else None
    if task["check_mode"] == bool(run_check_mode):
        return None
    return "check_mode: true" if task["check_mode"] else "check_mode: false"


def _task_line(task: dict, run_check_mode=None) -> str:
    flags = []
    if task["handler"]:
        flags.append("handler")
    check_flag = _check_flag(task, run_check_mode)
    if check_flag:
        flags.append(check_flag)
    if task["items"]:
        flags.append("%d items" % task["items"])
    if task["diff"]:
        flags.append("diff")
    if task["ignored_errors"]:
        flags.append("ignored errors")
    if task["unreachable"]:
        flags.append("unreachable")
    if task["no_log"]:
        flags.append("no_log")
    if task["runs"] > 1:
        flags.append("%d runs" % task["runs"])
    text = "[%s] %s%s" % (STATUS_LABELS[task["status"]], task["role"] + " : " if task["role"] else "", task["name"])
    if task["action"]:
        text += " (%s)" % task["action"]
    if flags:
        text += " {%s}" % ", ".join(flags)
    if task["message"]:
        text += ": " + task["message"]
    return text


def _junit_time(seconds) -> str:
    return "%.3f" % float(seconds or 0.0)


def junit_counts(report: dict) -> dict:
    """The counts :func:`render_junit` writes, derived from the JSON totals.

    ``failures`` = failed + drift controls, ``skipped`` = not_applicable controls,
    ``errors`` = unreachable hosts (one extra ``unreachable`` test case each),
    ``tests`` = host x control results + errors.
    """
    totals = report["totals"]
    controls = totals["controls"]
    errors = totals["unreachable_hosts"]
    return {
        "tests": sum(controls.values()) + errors,
        "failures": controls[FAILED] + controls[DRIFT],
        "errors": errors,
        "skipped": controls[NOT_APPLICABLE],
    }


def render_junit(report: dict) -> str:
    """``junit.xml`` text: one ``testsuite`` per host, one ``testcase`` per control.

    ``failed`` -> ``<failure type="failed">``; ``drift`` -> ``<failure type="drift">``;
    ``not_applicable`` -> ``<skipped>``; ``pass`` and ``fixed`` pass. An unreachable host gets
    one more test case, ``unreachable``, with an ``<error>``.
    """
    run = report.get("run", {})
    run_check = bool(run.get("check_mode"))
    counts = junit_counts(report)
    root = ET.Element("testsuites", {
        "name": "aisec.gpu_host compliance",
        "tests": str(counts["tests"]),
        "failures": str(counts["failures"]),
        "errors": str(counts["errors"]),
        "skipped": str(counts["skipped"]),
        "time": _junit_time(run.get("duration_s")),
    })
    for host, data in report["hosts"].items():
        controls = data["controls"]
        statuses = [c["status"] for c in controls.values()]
        suite_time = sum(c["duration_s"] for c in controls.values())
        suite = ET.SubElement(root, "testsuite", {
            "name": _xml_text(host),
            "hostname": _xml_text(host),
            "tests": str(len(controls) + (1 if data["unreachable"] else 0)),
            "failures": str(statuses.count(FAILED) + statuses.count(DRIFT)),
            "errors": str(1 if data["unreachable"] else 0),
            "skipped": str(statuses.count(NOT_APPLICABLE)),
            "time": _junit_time(suite_time),
            "timestamp": _xml_text(run.get("started") or ""),
        })
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("status", data["status"]),
            ("check_mode", str(bool(run.get("check_mode"))).lower()),
            ("playbook", run.get("playbook") or ""),
            ("collection_version", run.get("collection_version") or ""),
        ):
            ET.SubElement(props, "property", {"name": key, "value": _xml_text(value)})
        for control, centry in controls.items():
            case = ET.SubElement(suite, "testcase", {
                "classname": _xml_text(host),
                "name": _xml_text(control),
                "time": _junit_time(centry["duration_s"]),
            })
            lines = [control + (": " + centry["description"] if centry["description"] else "")]
            lines.extend(_task_line(t, run_check) for t in centry["tasks"])
            status = centry["status"]
            if status == FAILED:
                bad = [t for t in centry["tasks"] if t["status"] == FAILED]
                message = "%d task(s) failed: %s" % (len(bad), bad[0]["message"] or "task failed")
                node = ET.SubElement(case, "failure", {"type": "failed", "message": _xml_text(sanitize_message(message))})
                node.text = _xml_text("\n".join(_task_line(t, run_check) for t in bad))
            elif status == DRIFT:
                bad = [t for t in centry["tasks"] if t["status"] == DRIFT]
                message = "drift: %d task(s) would change the host: %s" % (len(bad), ", ".join(t["name"] for t in bad))
                node = ET.SubElement(case, "failure", {"type": "drift", "message": _xml_text(sanitize_message(message))})
                node.text = _xml_text("\n".join(_task_line(t, run_check) for t in bad))
            elif status == NOT_APPLICABLE:
                ET.SubElement(case, "skipped", {"message": "not applicable: every task of the control was skipped"})
            out = ET.SubElement(case, "system-out")
            out.text = _xml_text("\n".join(lines))
        if data["unreachable"]:
            case = ET.SubElement(suite, "testcase", {"classname": _xml_text(host), "name": "unreachable", "time": "0.000"})
            ET.SubElement(case, "error", {"type": "unreachable", "message": "host was unreachable during the run"})
    _indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _indent(elem, level: int = 0) -> None:
    """Pretty-print in place (``ET.indent`` needs Python 3.9)."""
    pad = "\n" + "  " * level
    if len(elem):
        if not (elem.text or "").strip():
            elem.text = pad + "  "
        for child in elem:
            _indent(child, level + 1)
        if not (child.tail or "").strip():
            child.tail = pad
    if level and not (elem.tail or "").strip():
        elem.tail = pad


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--head:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:24px 32px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;display:flex;gap:10px;align-items:center}
.sub{color:var(--muted);margin:0 0 16px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 16px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 8px}
.tile{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:96px}
.tile b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--head)}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-weight:600;font-size:12px;white-space:nowrap}
.s-pass{background:#dafbe1;color:#116329}
.s-fixed{background:#ddf4ff;color:#0a3069}
.s-drift{background:#fff1c2;color:#7d4e00}
.s-failed{background:#ffebe9;color:#a40e26}
.s-not_applicable{background:#eaeef2;color:#424a53}
tr.r-pass td:first-child{border-left:4px solid #1a7f37}
tr.r-fixed td:first-child{border-left:4px solid #0969da}
tr.r-drift td:first-child{border-left:4px solid #bf8700}
tr.r-failed td:first-child{border-left:4px solid #cf222e}
tr.r-not_applicable td:first-child{border-left:4px solid #8c959f}
ul.tasks{margin:4px 0 0;padding-left:18px}
ul.tasks li{margin:2px 0}
.flags{color:var(--muted);font-size:12px}
.msg{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;color:#a40e26;word-break:break-word}
.ok{color:#116329;font-weight:600}.bad{color:#a40e26;font-weight:600}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _badge(status: str) -> str:
    return '<span class="badge s-%s">%s</span>' % (status, _e(STATUS_LABELS[status]))


def _html_task(task: dict, run_check_mode) -> str:
    flags = []
    if task["handler"]:
        flags.append("handler")
    check_flag = _check_flag(task, run_check_mode)
    if check_flag:
        flags.append(check_flag)
    for key, label in (("diff", "diff"), ("ignored_errors", "ignored errors"), ("unreachable", "unreachable"),
                       ("no_log", "no_log")):
        if task[key]:
            flags.append(label)
    if task["items"]:
        flags.append("%d items" % task["items"])
    if task["runs"] > 1:
        flags.append("%d runs" % task["runs"])
    parts = [_badge(task["status"]), " "]
    if task["role"]:
        parts.append(_e(task["role"]) + " : ")
    parts.append(_e(task["name"]))
    if task["action"]:
        parts.append(' <span class="flags">(%s)</span>' % _e(task["action"]))
    if flags:
        parts.append(' <span class="flags">[%s]</span>' % _e(", ".join(flags)))
    if task["message"]:
        parts.append('<br><span class="msg">%s</span>' % _e(task["message"]))
    return "<li>%s</li>" % "".join(parts)


def render_html(report: dict) -> str:
    """``report.html`` text: a single self-contained page (inline CSS, no scripts or external assets)."""
    run = report.get("run", {})
    totals = report["totals"]
    out = []
    title = "Compliance report"
    if run.get("playbook"):
        title += " - " + os.path.basename(str(run["playbook"]))
    out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")
    out.append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">")
    out.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append("<title>%s</title>\n<style>%s</style>\n</head>\n<body>" % (_e(title), _CSS))
    out.append("<header><h1>%s</h1>" % _e(title))
    out.append('<p class="sub">aisec.gpu_host &middot; controls of <i>Deploying AI Systems Securely</i> (2024)'
               " &middot; %s</p></header>" % ("check mode (audit, no changes made)" if run.get("check_mode") else "normal mode (changes applied)"))
    out.append('<dl class="meta">')
    for label, key in (("Playbook", "playbook"), ("Started", "started"), ("Finished", "finished"),
                       ("Duration (s)", "duration_s"), ("Check mode", "check_mode"), ("Diff mode", "diff_mode"),
                       ("Limit", "limit"), ("Tags", "tags"), ("Skip tags", "skip_tags"),
                       ("ansible-core", "ansible_version"), ("Collection version", "collection_version")):
        value = run.get(key)
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        if value in (None, ""):
            continue
        out.append("<dt>%s</dt><dd>%s</dd>" % (_e(label), _e(value)))
    out.append("</dl>")

    verdict = '<span class="ok">compliant</span>' if totals["compliant"] else '<span class="bad">not compliant</span>'
    out.append("<section><h2>Totals</h2><p>Verdict: %s (no failed or drifting control, no failed host)</p>" % verdict)
    out.append('<div class="tiles"><div class="tile">hosts<b>%d</b></div><div class="tile">controls<b>%d</b></div>'
               % (totals["hosts"], totals["control_ids"]))
    for status in STATUSES:
        out.append('<div class="tile">%s<b>%d</b></div>' % (_badge(status), totals["controls"][status]))
    out.append('<div class="tile">ignored failures<b>%d</b></div><div class="tile">unreachable hosts<b>%d</b></div></div>'
               % (totals["ignored_failures"], totals["unreachable_hosts"]))
    out.append('<p class="flags">Status tiles count host &times; control results.</p></section>')

    out.append("<section><h2>Controls across hosts</h2><table><thead><tr><th>Control</th><th>Description</th>")
    out.extend("<th>%s</th>" % _badge(status) for status in (PASS, DRIFT, FIXED, FAILED, NOT_APPLICABLE))
    out.append("</tr></thead><tbody>")
    for control, row in report["summary"].items():
        worst = worst_status(s for s in STATUSES if row[s])
        out.append('<tr class="r-%s"><td class="id">%s</td><td>%s</td>' % (worst, _e(control), _e(row["description"] or "")))
        out.extend('<td class="n">%d</td>' % row[s] for s in (PASS, DRIFT, FIXED, FAILED, NOT_APPLICABLE))
        out.append("</tr>")
    if not report["summary"]:
        out.append('<tr><td colspan="7">No task carried a control id tag.</td></tr>')
    out.append('</tbody></table><p class="flags">Numbers are hosts.</p></section>')

    for host, data in report["hosts"].items():
        out.append('<section id="host-%s"><h2>%s %s%s</h2>' % (
            _e(re.sub(r"[^A-Za-z0-9_.-]", "_", host)), _e(host), _badge(data["status"]),
            ' <span class="badge s-failed">unreachable</span>' if data["unreachable"] else ""))
        untagged = data["untagged_tasks"]
        if any(untagged.values()):
            out.append('<p class="flags">Tasks without a control id: %s</p>' % _e(
                ", ".join("%s %d" % (STATUS_LABELS[s], untagged[s]) for s in STATUSES if untagged[s])))
        out.append("<table><thead><tr><th>Control</th><th>Description</th><th>Status</th><th>Tasks</th></tr></thead><tbody>")
        for control, centry in data["controls"].items():
            out.append('<tr class="r-%s"><td class="id">%s</td><td>%s</td><td>%s</td><td><ul class="tasks">%s</ul></td></tr>' % (
                centry["status"], _e(control), _e(centry["description"] or ""), _badge(centry["status"]),
                "".join(_html_task(t, bool(run.get("check_mode"))) for t in centry["tasks"])))
        if not data["controls"]:
            out.append('<tr><td colspan="4">No task with a control id ran on this host.</td></tr>')
        out.append("</tbody></table></section>")

    out.append("<footer>Generated by %s, report schema %s.</footer>\n</body>\n</html>\n" % (
        _e(report.get("generator", GENERATOR)), _e(report.get("schema_version", SCHEMA_VERSION))))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Console summary


def render_summary_table(report: dict) -> str:
    """The end-of-run table: ``control id | pass | drift | fixed | failed | n/a`` (hosts)."""
    columns = (PASS, DRIFT, FIXED, FAILED, NOT_APPLICABLE)
    headers = ["control id"] + [STATUS_LABELS[c] for c in columns]
    rows = [[control] + [str(row[c]) for c in columns] for control, row in report["summary"].items()]
    total = dict((c, sum(row[c] for row in report["summary"].values())) for c in columns)
    rows.append(["total"] + [str(total[c]) for c in columns])
    widths = [max(len(headers[i]), max(len(r[i]) for r in rows)) for i in range(len(headers))]

    def fmt(cells):
        return " | ".join(
            [cells[0].ljust(widths[0])] + [cells[i].rjust(widths[i]) for i in range(1, len(cells))]
        ).rstrip()

    lines = [fmt(headers), "-+-".join("-" * w for w in widths)]
    lines.extend(fmt(r) for r in rows[:-1])
    lines.append("-+-".join("-" * w for w in widths))
    lines.append(fmt(rows[-1]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Schema

_COUNTS_SCHEMA = {
    "type": "object",
    "properties": dict((s, {"type": "integer", "minimum": 0}) for s in STATUSES),
    "required": list(STATUSES),
    "additionalProperties": False,
}
_STATUS_SCHEMA = {"enum": list(STATUSES)}
_NULLABLE_STR = {"type": ["string", "null"]}

_TASK_SCHEMA = {
    "type": "object",
    "description": "One task on one host (a task that ran more than once is merged: worst status, runs > 1).",
    "properties": {
        "name": {"type": "string"},
        "role": _NULLABLE_STR,
        "action": _NULLABLE_STR,
        "path": dict(_NULLABLE_STR, description="playbook or role file and line of the task"),
        "handler": {"type": "boolean"},
        "status": _STATUS_SCHEMA,
        "check_mode": {"type": "boolean"},
        "changed": {"type": "boolean"},
        "diff": {"type": "boolean", "description": "the task produced a diff (its content is never stored)"},
        "items": {"type": "integer", "minimum": 0, "description": "loop items (0: no loop)"},
        "ignored_errors": {"type": "boolean", "description": "failed, but ignore_errors let the play go on"},
        "unreachable": {"type": "boolean"},
        "no_log": {"type": "boolean"},
        "message": dict(_NULLABLE_STR, description="failure msg (masked when no_log applies); null unless failed"),
        "runs": {"type": "integer", "minimum": 1},
        "duration_s": {"type": ["number", "null"], "minimum": 0},
    },
    "required": ["name", "role", "action", "path", "handler", "status", "check_mode", "changed", "diff", "items",
                 "ignored_errors", "unreachable", "no_log", "message", "runs", "duration_s"],
    "additionalProperties": False,
}

_CONTROL_SCHEMA = {
    "type": "object",
    "properties": {
        "status": dict(_STATUS_SCHEMA, description="worst status of the control's tasks"),
        "description": _NULLABLE_STR,
        "counts": dict(_COUNTS_SCHEMA, description="tasks per status"),
        "ignored_failures": {"type": "integer", "minimum": 0},
        "unreachable": {"type": "boolean"},
        "duration_s": {"type": "number", "minimum": 0},
        "tasks": {"type": "array", "items": _TASK_SCHEMA, "minItems": 1},
    },
    "required": ["status", "description", "counts", "ignored_failures", "unreachable", "duration_s", "tasks"],
    "additionalProperties": False,
}

_HOST_SCHEMA = {
    "type": "object",
    "properties": {
        "status": dict(_STATUS_SCHEMA, description="worst control status; failed also when the host was unreachable "
                                                   "or a task without a control id failed"),
        "unreachable": {"type": "boolean"},
        "controls": {
            "type": "object",
            "propertyNames": {"pattern": CONTROL_ID_RE.pattern},
            "additionalProperties": _CONTROL_SCHEMA,
        },
        "untagged_tasks": dict(_COUNTS_SCHEMA, description="results of tasks without a control id tag"),
        "stats": {
            "type": ["object", "null"],
            "description": "Ansible's play recap for the host",
            "additionalProperties": {"type": "integer"},
        },
    },
    "required": ["status", "unreachable", "controls", "untagged_tasks", "stats"],
    "additionalProperties": False,
}

REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://aisec.gpu_host/schemas/compliance-report-1.0.json",
    "title": "aisec.gpu_host compliance report",
    "type": "object",
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "generator": {"const": GENERATOR},
        "run": {
            "type": "object",
            "properties": {
                "playbook": dict(_NULLABLE_STR, description="first playbook of the run"),
                "playbooks": {"type": "array", "items": {"type": "string"}},
                "check_mode": {"type": "boolean", "description": "--check was given"},
                "diff_mode": {"type": "boolean"},
                "started": dict(_NULLABLE_STR, description="ISO 8601, UTC"),
                "finished": dict(_NULLABLE_STR, description="ISO 8601, UTC; null in a snapshot"),
                "duration_s": {"type": ["number", "null"], "minimum": 0},
                "limit": _NULLABLE_STR,
                "tags": {"type": "array", "items": {"type": "string"}},
                "skip_tags": {"type": "array", "items": {"type": "string"}},
                "ansible_version": {"type": "string"},
                "collection_version": _NULLABLE_STR,
                "output_dir": {"type": "string"},
                "output_dir_source": {"enum": ["option", "ansible-runner", "default"]},
                "id": {"type": "string",
                       "description": "random id of the run (also exported as %s to the run's tasks)" % RUN_ID_ENV_VAR},
                "final": {"type": "boolean", "description": "false for a snapshot written at a play start, "
                                                            "true for the report written at the end of the run"},
                "updated": dict(_NULLABLE_STR, description="when this file was written (ISO 8601, UTC)"),
            },
            "required": ["playbook", "playbooks", "check_mode", "diff_mode", "started", "finished", "duration_s",
                         "ansible_version", "collection_version"],
            "additionalProperties": True,
        },
        "hosts": {"type": "object", "additionalProperties": _HOST_SCHEMA},
        "summary": {
            "type": "object",
            "description": "per control id: number of hosts in each status",
            "propertyNames": {"pattern": CONTROL_ID_RE.pattern},
            "additionalProperties": {
                "type": "object",
                "properties": dict(
                    dict((s, {"type": "integer", "minimum": 0}) for s in STATUSES),
                    description=_NULLABLE_STR,
                    hosts={"type": "integer", "minimum": 1},
                ),
                "required": list(STATUSES) + ["description", "hosts"],
                "additionalProperties": False,
            },
        },
        "totals": {
            "type": "object",
            "properties": {
                "hosts": {"type": "integer", "minimum": 0},
                "hosts_by_status": _COUNTS_SCHEMA,
                "control_ids": {"type": "integer", "minimum": 0},
                "controls": dict(_COUNTS_SCHEMA, description="host x control results per status"),
                "tasks": dict(_COUNTS_SCHEMA, description="task results (tagged tasks, per host) per status"),
                "ignored_failures": {"type": "integer", "minimum": 0},
                "unreachable_hosts": {"type": "integer", "minimum": 0},
                "compliant": {"type": "boolean", "description": "no failed or drift control and no failed host"},
            },
            "required": ["hosts", "hosts_by_status", "control_ids", "controls", "tasks", "ignored_failures",
                         "unreachable_hosts", "compliant"],
            "additionalProperties": False,
        },
    },
    "required": ["schema_version", "generator", "run", "hosts", "summary", "totals"],
    "additionalProperties": False,
}

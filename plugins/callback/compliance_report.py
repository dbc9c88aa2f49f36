# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: compliance_report
type: aggregate
short_description: Per-control compliance report (JSON, JUnit, HTML) of an aisec.gpu_host run
version_added: 0.1.0
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
description:
  - Groups the results of every task by the control ids it carries as tags (tags matching
    C(^AISEC-[A-Z]+-[0-9]{2}$), see C(docs/controls.md)) and records, per host and per control, one
    status.
  - C(pass) - ok and not changed; C(drift) - changed while the task ran in check mode; C(fixed) - changed
    in normal mode; C(failed) - failed or unreachable, also when C(ignore_errors) let the play go on (the
    task is then flagged C(ignored_errors)); C(not_applicable) - every task of the control was skipped.
  - A control's status on a host is the worst status of its tasks, in the order
    C(failed) > C(drift) > C(fixed) > C(pass) > C(not_applicable).
  - Tags are read from the task as Ansible resolves them, so tags inherited from blocks, roles,
    C(import_role), C(import_tasks) and C(include_role) with C(apply) count. Loop items are aggregated
    into their task, handlers are reported like tasks (flagged C(handler)). The ok result of an
    include, import or meta task itself is not a control result.
  - A task that enforces several controls in one action (for example M(aisec.gpu_host.nft_table), one table for
    several controls) may return C(changed_controls), the list of its control ids whose part changed; only those
    are then recorded as C(drift) or C(fixed), its other control ids as C(pass).
  - In check mode, a C(command)/C(shell) task that its condition asked to run and that check mode alone kept from
    running (C(Command would have run if not in check mode)) is C(drift), as the roles fix some drift with a
    command (for example C(pam-auth-update) for a PAM stack edited by hand).
  - Ad-hoc commands (the C(ansible) CLI) are not compliance runs; the plugin stays silent for them.
  - At the end of the run it writes C(report.json), C(junit.xml) and C(report.html) to O(output_dir)
    and prints a per-control summary table (control id, then the number of hosts in each status) followed by
    one line per host with drifting or failed controls.
  - At the start of every play it also (re)writes C(report.json) as a progressive snapshot of the results so
    far (C(run.final=false), no play recap), so that a later play of the same run can read it. When the run
    starts it exports two variables to the environment of the C(ansible-playbook) process, which every task
    of the run inherits (worker processes are forked from it) - E(AISEC_COMPLIANCE_RUN_ID), the random
    C(run.id) of this run, and E(AISEC_COMPLIANCE_SNAPSHOT), the path of C(report.json) (unset when the
    C(json) format is off). C(playbooks/audit.yml) ends with a gate play that uses them to fail the run on
    drift when asked to.
  - Tasks tagged C(aisec_report_exclude) are not recorded (the audit gate itself is tagged so).
  - Result payloads are never written. Failed tasks keep their C(msg) only, replaced by a fixed text when
    C(no_log) applies; diffs are recorded as present or absent, never their content.
  - Control descriptions come from C(docs/controls.md) of the collection when that file is present.
  - The callback never changes the exit status of the run. To gate a pipeline on drift or failures, end the run
    with the gate play of C(playbooks/audit.yml) (C(aisec_audit_fail_on_drift=true)), or read C(totals) from
    C(report.json) afterwards (see EXAMPLES).
requirements:
  - Enable it with C(callbacks_enabled = aisec.gpu_host.compliance_report) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=aisec.gpu_host.compliance_report). It runs alongside the stdout callback.
options:
  output_dir:
    description:
      - Directory for C(report.json), C(junit.xml) and C(report.html); created when missing (mode C(0750)),
        existing report files in it are replaced.
      - A relative path set in C(ansible.cfg) is taken relative to the directory of that file, otherwise relative
        to the current directory of C(ansible-playbook).
      - When not set and the run is driven by ansible-runner (and so by AWX or Automation Controller), the
        reports go to C(<artifact dir>/compliance-report). ansible-runner exports the job's artifact
        directory (C(<private_data_dir>/artifacts/<ident>), or C(/runner/artifacts/<ident>) in an execution
        environment) to ansible-playbook as E(AWX_ISOLATED_DATA_DIR), which its own C(awx_display) callback
        uses too; that variable is how the runner is detected.
      - Otherwise the reports go to C(./compliance-report).
    type: path
    env:
      - name: AISEC_COMPLIANCE_DIR
    ini:
      - section: aisec_compliance
        key: output_dir
  formats:
    description:
      - Which report files to write. C(json) writes C(report.json), C(junit) writes C(junit.xml), C(html) writes
        C(report.html).
    type: list
    elements: str
    choices: [json, junit, html]
    default: [json, junit, html]
    env:
      - name: AISEC_COMPLIANCE_FORMATS
    ini:
      - section: aisec_compliance
        key: formats
  summary:
    description:
      - Print the per-control summary table and the report paths at the end of the run.
    type: bool
    default: true
    env:
      - name: AISEC_COMPLIANCE_SUMMARY
    ini:
      - section: aisec_compliance
        key: summary
notes:
  - "C(report.json) (schema version 1.0; the JSON Schema is C(REPORT_SCHEMA) in the collection's
    C(plugins/module_utils/compliance.py)) holds: C(run) - playbook(s), C(check_mode), C(diff_mode), C(started),
    C(finished) (ISO 8601, UTC), C(duration_s), C(limit), C(tags), C(skip_tags), C(ansible_version),
    C(collection_version), C(output_dir), C(output_dir_source), C(id) (random run id), C(final) (false in a
    snapshot, whose C(finished) is null) and C(updated) (when the file was written); C(hosts) - per host its C(status), C(unreachable),
    C(stats) (play recap), C(untagged_tasks) (status counts of tasks without a control id) and C(controls) - per
    control id its C(status), C(description), task C(counts), C(ignored_failures), C(unreachable), C(duration_s) and
    C(tasks) (C(name), C(role), C(action), C(path), C(handler), C(status), C(check_mode), C(changed), C(diff),
    C(items), C(ignored_errors), C(unreachable), C(no_log), C(message), C(runs), C(duration_s));
    C(summary) - per control id the number of hosts in each status; C(totals) - C(hosts), C(hosts_by_status),
    C(control_ids), C(controls) (host x control results per status), C(tasks), C(ignored_failures),
    C(unreachable_hosts) and C(compliant) (no failed or drifting control and no failed host)."
  - "C(junit.xml) has one C(testsuite) per host and one C(testcase) per control: C(failed) gives a
    C(<failure type=\"failed\">), C(drift) a C(<failure type=\"drift\">), C(not_applicable) a C(<skipped>);
    an unreachable host gets one more test case, C(unreachable), with an C(<error>). The counts match
    C(totals) in C(report.json)."
  - C(report.html) is a single self-contained page (inline CSS, no scripts, no external assets).
  - A host's status is the worst status of its controls, and C(failed) also when the host was unreachable or
    a task without a control id failed on it.
  - The final reports are written when the run ends normally (the play recap); an aborted run leaves at most
    the snapshot C(report.json) of its last play start (C(run.final=false)).
  - Report files are created with mode C(0640); they contain host names, task names and failure messages.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = aisec.gpu_host.compliance_report
#
# [aisec_compliance]
# output_dir = /var/lib/aisec/compliance
# formats = json,junit,html

# Shell: a check-mode drift audit whose reports go to ./audit
#   ANSIBLE_CALLBACKS_ENABLED=aisec.gpu_host.compliance_report AISEC_COMPLIANCE_DIR=./audit \
#     ansible-playbook -i inventory playbooks/site.yml --check --diff

# CI gate run after the audit: fail when any control drifted or failed
- name: Gate on the compliance report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the report
      ansible.builtin.set_fact:
        compliance: "{{ lookup('ansible.builtin.file', 'audit/report.json') | from_json }}"

    - name: No drift, no failures
      ansible.builtin.assert:
        that:
          - compliance.totals.controls.drift == 0
          - compliance.totals.controls.failed == 0
          - compliance.totals.compliant
        fail_msg: >-
          {{ compliance.totals.controls.drift }} drifting and {{ compliance.totals.controls.failed }}
          failed control results, see audit/report.html

# ansible-runner: without output_dir the reports land in the job's artifact directory
#   import ansible_runner
#   r = ansible_runner.run(private_data_dir="/srv/runner", playbook="site.yml",
#                          envvars={"ANSIBLE_CALLBACKS_ENABLED": "aisec.gpu_host.compliance_report"})
#   report = os.path.join(r.config.artifact_dir, "compliance-report", "report.json")
"""

import datetime
import json
import os
import time
import uuid

from ansible import context
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_version

from ansible_collections.aisec.gpu_host.plugins.module_utils import atomic_file
from ansible_collections.aisec.gpu_host.plugins.module_utils.compliance import (
    FILE_NAMES,
    RUN_ID_ENV_VAR,
    SNAPSHOT_ENV_VAR,
    ComplianceCollector,
    ComplianceError,
    build_report,
    collection_version_from_galaxy,
    collection_version_from_manifest,
    parse_control_descriptions,
    render_drift_lines,
    render_html,
    render_json,
    render_junit,
    render_summary_table,
    resolve_output_dir,
)

try:
    from ansible.playbook.handler import Handler
except ImportError:  # pragma: no cover - present in every supported ansible-core
    Handler = None

_FORMATS = ("json", "junit", "html")
_RENDERERS = {"json": render_json, "junit": render_junit, "html": render_html}
_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def collection_version(root: str = _COLLECTION_ROOT) -> str | None:
    """Version from MANIFEST.json (installed collection) or galaxy.yml (source checkout)."""
    text = _read_text(os.path.join(root, "MANIFEST.json"))
    version = collection_version_from_manifest(text) if text is not None else None
    if version is None:
        text = _read_text(os.path.join(root, "galaxy.yml"))
        version = collection_version_from_galaxy(text) if text is not None else None
    return version


def control_descriptions(root: str = _COLLECTION_ROOT) -> dict:
    """Control descriptions from docs/controls.md; empty when the file is absent."""
    text = _read_text(os.path.join(root, "docs", "controls.md"))
    return parse_control_descriptions(text) if text is not None else {}


def write_atomic(directory: str, name: str, text: str, mode: int = 0o640) -> str:
    """Write ``text`` to ``directory/name`` through a temporary file and a rename."""
    return atomic_file.write_atomic(os.path.join(directory, name), text, mode)


WOULD_HAVE_RUN = "Command would have run if not in check mode"


def _would_have_run(data):
    """A command/shell result (or loop item) that check mode alone kept from running."""
    if data.get("msg") == WOULD_HAVE_RUN:
        return True
    return any(isinstance(item, dict) and item.get("msg") == WOULD_HAVE_RUN for item in _loop_results(data))


def _loop_results(result: dict) -> list:
    items = result.get("results")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _failure_message(result: dict):
    message = result.get("msg")
    for item in _loop_results(result):
        if item.get("failed") or item.get("unreachable"):
            if "censored" in item or item.get("_ansible_no_log"):
                break
            item_msg = item.get("msg")
            if item_msg:
                message = "%s (first failed item: %s)" % (message, item_msg) if message else item_msg
            break
    return message


class CallbackModule(CallbackBase):
    """Aggregate callback writing the aisec.gpu_host compliance report."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aisec.gpu_host.compliance_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self._collector = ComplianceCollector(control_descriptions())
        self._started = None
        self._started_monotonic = None
        self._playbooks = []
        self._adhoc = False
        self._task_starts = {}
        self._formats = list(_FORMATS)
        self._run_id = uuid.uuid4().hex
        self._output = None
        self._exported = False
        self._snapshot_warned = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        formats = self.get_option("formats")
        if formats is None:
            formats = list(_FORMATS)
        if not isinstance(formats, (list, tuple)):
            formats = [formats]
        wanted = [to_text(f).strip().lower() for f in formats if to_text(f).strip()]
        unknown = sorted(set(wanted) - set(_FORMATS))
        if unknown:
            raise AnsibleError(
                "aisec.gpu_host.compliance_report: unknown report format(s) %s in option 'formats'; "
                "expected any of %s" % (", ".join(unknown), ", ".join(_FORMATS))
            )
        self._formats = [f for f in _FORMATS if f in wanted]

    # ---- timing -------------------------------------------------------------------------

    def _mark_start(self):
        if self._started is None:
            self._started = _now()
            self._started_monotonic = time.monotonic()

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, "_file_name", None)
        if name == "__adhoc_playbook__":
            # The ansible CLI (ad-hoc) is no compliance run: no report, no summary on its stdout.
            self._adhoc = True
            return
        self._mark_start()
        if name:
            self._playbooks.append(os.path.abspath(to_text(name)))
        self._export_environment()

    def v2_playbook_on_play_start(self, play):
        if self._adhoc:
            return
        self._mark_start()
        self._write_snapshot()

    # ---- output location, run identity and snapshots -------------------------------------

    def _output_location(self):
        """``(directory, source)`` of the reports, resolved once per run."""
        if self._output is None:
            self._output = resolve_output_dir(self.get_option("output_dir"), os.environ, os.getcwd())
        return self._output

    def _export_environment(self):
        """Tell the tasks of this run (forked from this process) where the snapshot is and which run it is."""
        if self._exported:
            return
        self._exported = True
        os.environ[RUN_ID_ENV_VAR] = self._run_id
        if "json" in self._formats:
            os.environ[SNAPSHOT_ENV_VAR] = os.path.join(self._output_location()[0], FILE_NAMES["json"])
        else:
            os.environ.pop(SNAPSHOT_ENV_VAR, None)  # never point at another run's file

    def _write_snapshot(self):
        """(Re)write report.json with the results so far; warn once when that is not possible."""
        if "json" not in self._formats:
            return
        output_dir, source = self._output_location()
        try:
            report = build_report(self._collector, self._run_metadata(output_dir, source, final=False))
            text = render_json(report)
            os.makedirs(output_dir, mode=0o750, exist_ok=True)
            write_atomic(output_dir, FILE_NAMES["json"], text)
        except (ComplianceError, TypeError, ValueError, OSError) as exc:
            if not self._snapshot_warned:
                self._snapshot_warned = True
                self._display.warning(
                    "aisec.gpu_host.compliance_report: could not write the report snapshot to %s: %s"
                    % (output_dir, to_text(exc))
                )

    def v2_runner_on_start(self, host, task):
        self._task_starts[(host.get_name(), task._uuid)] = time.monotonic()

    # ---- results ------------------------------------------------------------------------

    def _record(self, result, outcome, ignored=False, would_run=False):
        task = result._task
        host = result._host.get_name()
        data = result._result if isinstance(result._result, dict) else {}
        fields = getattr(result, "_task_fields", None) or {}

        check_mode = fields.get("check_mode")
        if not isinstance(check_mode, bool):
            check_mode = task.check_mode
        if not isinstance(check_mode, bool):
            check_mode = bool(context.CLIARGS.get("check", False))

        no_log = (
            (isinstance(task.no_log, bool) and task.no_log)
            or data.get("_ansible_no_log") is True
            or "censored" in data
            or any("censored" in item or item.get("_ansible_no_log") is True for item in _loop_results(data))
        )

        items = _loop_results(data)
        started = self._task_starts.pop((host, task._uuid), None)
        role = getattr(task, "_role", None)
        try:
            role_name = role.get_name() if role is not None else None
        except Exception:  # pylint: disable=broad-except
            role_name = None
        try:
            tags = task.tags
        except Exception:  # pylint: disable=broad-except
            tags = fields.get("tags")

        self._collector.add_result(
            host=host,
            tags=tags,
            outcome=outcome,
            task_id=task._uuid,
            name=to_text(getattr(result, "task_name", None) or task.get_name()),
            role=role_name,
            action=getattr(task, "resolved_action", None) or task.action,
            changed=bool(data.get("changed")) or would_run,
            check_mode=check_mode or would_run,
            ignored=ignored,
            handler=Handler is not None and isinstance(task, Handler),
            message=_failure_message(data) if outcome in ("failed", "unreachable") else None,
            no_log=no_log,
            diff=bool(data.get("diff")) or any(bool(item.get("diff")) for item in items),
            items=len(items),
            duration=(time.monotonic() - started) if started is not None else None,
            path=task.get_path(),
            changed_controls=data.get("changed_controls") if isinstance(data.get("changed_controls"), list) else None,
        )

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed", ignored=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        data = result._result if isinstance(result._result, dict) else {}
        if _would_have_run(data):
            # A command or shell task whose condition asked for it, skipped only because of check mode: the change
            # it makes is drift (a role fixes drift such as a PAM stack edited by hand with a command).
            self._record(result, "ok", would_run=True)
            return
        self._record(result, "skipped")

    # ---- end of run ---------------------------------------------------------------------

    def _run_metadata(self, output_dir, source, final=True):
        now = _now()
        args = context.CLIARGS
        return {
            "playbook": self._playbooks[0] if self._playbooks else None,
            "playbooks": list(self._playbooks),
            "check_mode": bool(args.get("check", False)),
            "diff_mode": bool(args.get("diff", False)),
            "started": _iso(self._started or now),
            "finished": _iso(now) if final else None,
            "duration_s": round(time.monotonic() - self._started_monotonic, 3) if self._started_monotonic else 0.0,
            "limit": to_text(args["subset"]) if args.get("subset") else None,
            "tags": [to_text(t) for t in (args.get("tags") or ()) if to_text(t) != "all"],
            "skip_tags": [to_text(t) for t in (args.get("skip_tags") or ())],
            "ansible_version": ansible_version,
            "collection_version": collection_version(),
            "output_dir": output_dir,
            "output_dir_source": source,
            "id": self._run_id,
            "final": bool(final),
            "updated": _iso(now),
        }

    def v2_playbook_on_stats(self, stats):
        if self._adhoc:
            return
        for host in sorted(getattr(stats, "processed", {}) or {}):
            try:
                self._collector.set_host_stats(host, stats.summarize(host))
            except (ComplianceError, TypeError, ValueError):
                continue

        output_dir, source = self._output_location()
        try:
            report = build_report(self._collector, self._run_metadata(output_dir, source, final=True))
            json.dumps(report)  # fail here, not half way through writing, on anything unserialisable
        except (ComplianceError, TypeError, ValueError) as exc:
            self._display.error("aisec.gpu_host.compliance_report: could not build the report: %s" % to_text(exc))
            return

        written = []
        try:
            os.makedirs(output_dir, mode=0o750, exist_ok=True)
            for fmt in self._formats:
                written.append(write_atomic(output_dir, FILE_NAMES[fmt], _RENDERERS[fmt](report)))
        except OSError as exc:
            self._display.error(
                "aisec.gpu_host.compliance_report: could not write the report to %s: %s" % (output_dir, to_text(exc))
            )
            return

        if self.get_option("summary"):
            mode = "check mode" if report["run"]["check_mode"] else "normal mode"
            banner = "AISEC COMPLIANCE (%s, hosts per status) " % mode
            self._display.banner(banner)
            self._display.display(render_summary_table(report))
            totals = report["totals"]
            self._display.display(
                "hosts: %d, compliant: %s, drift: %d, failed: %d (ignored failures: %d), unreachable hosts: %d"
                % (totals["hosts"], "yes" if totals["compliant"] else "no", totals["controls"]["drift"],
                   totals["controls"]["failed"], totals["ignored_failures"], totals["unreachable_hosts"])
            )
            for line in render_drift_lines(report):
                self._display.display(line)
            for path in written:
                self._display.display("report: %s" % path)

"""Static checks of the conventions every role follows (docs/dev/CONTRIBUTING.md).

* every task carries a control-id tag that exists in docs/controls.md;
* every variable in defaults/main.yml is documented in meta/argument_specs.yml with the same default,
  and argument_specs has the `main` and `preflight` entry points with the same options;
* public variables are prefixed with the role name.
"""
from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")) if os.path.isdir(p))
# Building blocks other roles and playbooks include: safe_apply (its tasks take the control tags of the role that
# includes it, see test_safe_apply_is_included_with_control_tags) and preflight (its main entry point is the
# pre-flight of the other roles). They have no "preflight" entry point of their own.
BUILDING_BLOCKS = ("safe_apply", "preflight")
HARDENING_ROLES = [r for r in ROLES if r not in BUILDING_BLOCKS]
CONTROL_RE = re.compile(r"^AISEC-[A-Z]+-[0-9]{2}$")
BLOCK_KEYS = ("block", "rescue", "always")


def _controls():
    with open(os.path.join(ROOT, "docs", "controls.md"), encoding="utf-8") as handle:
        return set(re.findall(r"^\| (AISEC-[A-Z]+-[0-9]{2}) \|", handle.read(), flags=re.M))


def _tasks(items, inherited=()):
    for task in items or []:
        if not isinstance(task, dict):
            continue
        tags = tuple(inherited) + tuple(task.get("tags", []) if isinstance(task.get("tags"), list) else [task.get("tags")])
        if any(key in task for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from _tasks(task.get(key), tags)
            continue
        yield task, tags


def _task_files(role):
    for pattern in ("tasks/*.yml", "handlers/*.yml"):
        yield from sorted(glob.glob(os.path.join(ROOT, "roles", role, pattern)))


def _inherited_tags(role):
    """Tags that a file's tasks inherit from the task that imports it (tags) or includes it (apply.tags)."""
    inherited = {}
    for path in _task_files(role):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or []
        for task, tags in _tasks(data):
            for key in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks"):
                if key not in task:
                    continue
                arg = task[key]
                name = arg if isinstance(arg, str) else arg.get("file")
                given = list(tags) if key.endswith("import_tasks") else list((arg.get("apply") or {}).get("tags", []))
                target = os.path.join(ROOT, "roles", role, "tasks", name)
                inherited.setdefault(target, set()).update(given)
    return inherited


@pytest.mark.parametrize("role", [r for r in ROLES if r != "safe_apply"])
def test_every_task_names_its_control(role):
    known = _controls()
    inherited = _inherited_tags(role)
    missing, unknown = [], []
    for path in _task_files(role):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or []
        for task, tags in _tasks(data, sorted(inherited.get(path, ()))):
            if any(k in task for k in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks")):
                continue  # the included file's tasks are checked themselves
            controls = [t for t in tags if isinstance(t, str) and CONTROL_RE.match(t)]
            where = "%s: %s" % (os.path.relpath(path, ROOT), task.get("name", "<unnamed>"))
            if not controls and "handlers" not in path:
                missing.append(where)
            unknown.extend("%s: %s" % (where, c) for c in controls if c not in known)
    assert not missing, "tasks without a control-id tag:\n" + "\n".join(missing)
    assert not unknown, "control ids not in docs/controls.md:\n" + "\n".join(unknown)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_documented_in_argument_specs(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    if role in BUILDING_BLOCKS:
        # every entry point it ships is documented, and the other way round
        entries = sorted(os.path.splitext(os.path.basename(p))[0]
                         for p in glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml")))
        assert sorted(specs) == [e for e in entries if e in specs] and set(specs) <= set(entries), (specs, entries)
        options = {}
        for spec in specs.values():
            options.update(spec.get("options", {}))
    else:
        assert {"main", "preflight"} <= set(specs), "entry points main and preflight are required"
        options = specs["main"].get("options", {})
        assert specs["preflight"].get("options", {}) == options
    defaults_path = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
    defaults = {}
    if os.path.exists(defaults_path):
        with open(defaults_path, encoding="utf-8") as handle:
            defaults = yaml.safe_load(handle) or {}
    undocumented = sorted(set(defaults) - set(options))
    assert not undocumented, "defaults without an argument spec: %s" % undocumented
    for name, value in defaults.items():
        assert name.startswith(role + "_"), "%s is not prefixed with %s_" % (name, role)
        spec_default = options[name].get("default")
        if isinstance(value, str) and "{{" in value:
            continue  # templated defaults are documented in prose
        assert spec_default == value, "%s: defaults/main.yml has %r, argument_specs %r" % (name, value, spec_default)


def test_safe_apply_is_included_with_control_tags():
    """The safe_apply role's tasks carry no control of their own: every include passes the includer's."""
    known = _controls()
    found = 0
    for role in ROLES:
        for path in _task_files(role):
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or []
            for task, _tags in _tasks(data):
                arg = task.get("ansible.builtin.include_role")
                if not isinstance(arg, dict) or arg.get("name") != "aisec.gpu_host.safe_apply":
                    continue
                found += 1
                tags = (arg.get("apply") or {}).get("tags", [])
                assert [t for t in tags if CONTROL_RE.match(str(t)) and t in known], (path, task.get("name"))
    assert found >= 3

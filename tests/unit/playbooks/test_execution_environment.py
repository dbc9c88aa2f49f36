# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""execution-environment.yml and bindep.txt list every dependency the collection imports or calls.

* Python: every third-party module imported by plugins/ (parsed with ast) is provided by a distribution the EE
  installs (its ``dependencies.python`` requirements, or ansible-core and its own requirements); target-side
  modules import nothing but the standard library and Ansible's module_utils.
* Collections: every collection named by FQCN in plugins/, roles/ and playbooks/ (modules, roles, connection,
  filters, lookups) is in the EE's galaxy requirements, which also cover requirements.yml.
* System: the programs the controller-side plugin code runs (``shutil.which``) come from bindep.txt packages
  for both rpm- and dpkg-based EE images.
* ansible-builder (when installed) accepts the file and generates the build context.
"""

from __future__ import annotations

import ast
import glob
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EE_FILE = os.path.join(ROOT, "execution-environment.yml")
BINDEP = os.path.join(ROOT, "bindep.txt")
PLUGINS = os.path.join(ROOT, "plugins")
SELF = "aisec.gpu_host"
BUILTIN_COLLECTIONS = {"ansible.builtin", "ansible.legacy", SELF}
FQCN_RE = re.compile(r"^([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+$")
JINJA_FQCN_RE = re.compile(r"(?:\|\s*|lookup\(\s*['\"]|query\(\s*['\"]|is\s+)([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+")
# Programs the controller-side code may run -> the bindep package names (rpm, dpkg) that provide them.
PROGRAM_PACKAGES = {
    "gpg": ("gnupg2", "gnupg"),
    "gpg2": ("gnupg2", "gnupg"),
    "gpgv": ("gnupg2", "gnupg"),
    "ssh": ("openssh-clients", "openssh-client"),
}
# Task keywords that are not module names (anything else with three dotted parts is an FQCN).
TASK_KEYWORDS = {"name", "when", "tags", "vars", "loop", "register", "notify", "block", "rescue", "always"}


def load_ee():
    with open(EE_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def requirement_names(lines):
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def ee_python_requirements(ee):
    python = ee["dependencies"].get("python") or []
    if isinstance(python, str):
        with open(os.path.join(ROOT, python), encoding="utf-8") as handle:
            python = handle.read().splitlines()
    return requirement_names(python)


def ee_collections(ee):
    galaxy = ee["dependencies"]["galaxy"]
    if isinstance(galaxy, str):
        with open(os.path.join(ROOT, galaxy), encoding="utf-8") as handle:
            galaxy = yaml.safe_load(handle)
    return {entry["name"]: entry.get("version") for entry in galaxy.get("collections", [])}


def python_files(*parts):
    return sorted(glob.glob(os.path.join(PLUGINS, *parts), recursive=True))


def imports_of(path):
    """Top-level module names imported by a Python file (absolute imports only)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def distribution_of(module):
    top = module.split(".", 1)[0]
    dists = importlib.metadata.packages_distributions().get(top, [])
    return {re.sub(r"[-_.]+", "-", d).lower() for d in dists}


def ansible_core_requirements():
    reqs = importlib.metadata.requires("ansible-core") or []
    return requirement_names(r for r in reqs if "extra ==" not in r)


def is_module_stub(path):
    """plugins/modules/NAME.py that only documents an action plugin of the same name."""
    name = os.path.basename(path)
    return os.path.exists(os.path.join(PLUGINS, "action", name))


def yaml_fqcns(node, found, key=None):
    """Collections named by FQCN in a loaded YAML document (task keys, role names, connection plugins)."""
    if isinstance(node, dict):
        for k, value in node.items():
            if isinstance(k, str) and FQCN_RE.match(k) and k not in TASK_KEYWORDS:
                found.add(".".join(k.split(".")[:2]))
            yaml_fqcns(value, found, k)
    elif isinstance(node, list):
        for item in node:
            yaml_fqcns(item, found, key)
    elif isinstance(node, str):
        if key in ("role", "name", "ansible_connection", "connection") and FQCN_RE.match(node.strip()):
            if key != "name" or node.strip().count(".") == 2:
                found.add(".".join(node.strip().split(".")[:2]))
        for match in JINJA_FQCN_RE.finditer(node):
            found.add(match.group(1))


def used_collections():
    found = set()
    files = glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))
    files += glob.glob(os.path.join(ROOT, "inventories", "**", "*.yml"), recursive=True)
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                yaml_fqcns(doc, found)
    for path in python_files("**", "*.py"):
        for module in imports_of(path):
            if module.startswith("ansible_collections."):
                parts = module.split(".")
                if len(parts) >= 3:
                    found.add("%s.%s" % (parts[1], parts[2]))
    # Names that look like FQCNs but are not collections (role-relative names with dots do not exist here).
    return {name for name in found if not name.startswith(("docs.", "www."))}


# ------------------------------------------------------------------------------ tests


def test_ee_definition_shape():
    ee = load_ee()
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert re.match(r"^ansible-core>=2\.19,<2\.20$", deps["ansible_core"]["package_pip"])
    assert deps["ansible_runner"]["package_pip"].startswith("ansible-runner")
    assert deps["python_interpreter"]["python_path"].endswith(("python3.11", "python3.12"))
    assert deps["system"] == "bindep.txt"
    steps = "\n".join(ee["additional_build_steps"]["append_final"])
    assert "ansible-galaxy collection install" in steps and "aisec" in steps
    assert "ANSIBLE_CALLBACKS_ENABLED=aisec.gpu_host.compliance_report" in steps


def test_python_imports_are_provided_by_the_ee():
    provided = ee_python_requirements(load_ee())
    core = {"ansible-core"} | ansible_core_requirements()
    stdlib = set(sys.stdlib_module_names)
    missing = {}
    for path in python_files("**", "*.py"):
        for module in imports_of(path):
            top = module.split(".", 1)[0]
            if top in stdlib or top in ("ansible", "ansible_collections", "__future__"):
                continue
            dists = distribution_of(module)
            assert dists, "%s imports %s, which no installed distribution provides" % (path, module)
            if not dists & (provided | core):
                missing.setdefault(module, []).append(os.path.relpath(path, ROOT))
    assert not missing, "imported but not in the EE's python requirements: %s" % missing
    # The packages the CSAF code imports are listed explicitly (not only as someone's transitive dependency).
    assert {"jsonschema", "referencing"} <= provided


def test_target_side_modules_use_only_the_standard_library():
    stdlib = set(sys.stdlib_module_names)
    for path in python_files("modules", "*.py"):
        if is_module_stub(path):
            continue
        for module in imports_of(path):
            top = module.split(".", 1)[0]
            assert (top in stdlib or top == "__future__" or module.startswith("ansible.module_utils")
                    or module.startswith("ansible_collections.aisec.gpu_host.plugins.module_utils")), (path, module)


def test_collections_used_are_in_the_ee():
    ee = load_ee()
    listed = ee_collections(ee)
    used = used_collections() - BUILTIN_COLLECTIONS
    assert used, "the scan found no collection at all"
    assert used <= set(listed), "used but not in the EE: %s" % sorted(used - set(listed))
    assert "awx.awx" in used  # playbooks/awx_configure.yml


def test_ee_covers_requirements_yml():
    listed = ee_collections(load_ee())
    with open(os.path.join(ROOT, "requirements.yml"), encoding="utf-8") as handle:
        required = {entry["name"]: entry.get("version") for entry in yaml.safe_load(handle)["collections"]}
    for name, version in required.items():
        assert name in listed, name
        assert listed[name] == version, "%s: EE %s, requirements.yml %s" % (name, listed[name], version)


def controller_python_files():
    """Controller-side code: action, callback and filter plugins and every module_utils file they import."""
    files = set(python_files("action", "*.py") + python_files("callback", "*.py") + python_files("filter", "*.py"))
    queue = list(files)
    prefix = "ansible_collections.aisec.gpu_host.plugins.module_utils."
    while queue:
        for module in imports_of(queue.pop()):
            if module.startswith(prefix):
                path = os.path.join(PLUGINS, "module_utils", module[len(prefix):].split(".")[0] + ".py")
                if os.path.exists(path) and path not in files:
                    files.add(path)
                    queue.append(path)
    return sorted(files)


def test_programs_run_by_controller_code_are_in_bindep():
    with open(BINDEP, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    packages = {}
    for line in filter(None, lines):
        name, _sep, selector = line.partition(" ")
        packages.setdefault(name, selector)
    programs = set()
    for path in controller_python_files():
        with open(path, encoding="utf-8") as handle:
            programs.update(re.findall(r"shutil\.which\(\s*[\"']([A-Za-z0-9_.-]+)[\"']", handle.read()))
    assert {"gpg", "gpgv"} <= programs, "the scan no longer finds the OpenPGP tools: %s" % sorted(programs)
    programs.add("ssh")  # the connection to the managed hosts
    for program in sorted(programs):
        assert program in PROGRAM_PACKAGES, "%s is run by controller code; add its packages to PROGRAM_PACKAGES and bindep.txt" % program
        rpm, dpkg = PROGRAM_PACKAGES[program]
        assert "platform:rpm" in packages.get(rpm, ""), (program, rpm)
        assert "platform:dpkg" in packages.get(dpkg, ""), (program, dpkg)


def test_bindep_parses():
    bindep = pytest.importorskip("bindep.depends")
    with open(BINDEP, encoding="utf-8") as handle:
        depends = bindep.Depends(handle.read())
    names = {rule[0] for rule in depends._rules}  # pylint: disable=protected-access
    assert {"gnupg2", "gnupg", "ca-certificates"} <= names


def test_ansible_builder_accepts_the_definition(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(builder):
        builder = shutil.which("ansible-builder")
    if not builder:
        pytest.skip("ansible-builder is not installed (pip install ansible-builder)")
    # The build context needs the collection tarball (built by ansible-galaxy collection build in real builds).
    work = tmp_path / "ee"
    (work / "build").mkdir(parents=True)
    for name in ("execution-environment.yml", "bindep.txt", "requirements.txt"):
        shutil.copy(os.path.join(ROOT, name), str(work / name))
    (work / "build" / "aisec-gpu_host-0.0.0.tar.gz").write_bytes(b"")
    proc = subprocess.run([builder, "create", "-f", "execution-environment.yml", "-c", "context", "--output-filename",
                           "Containerfile"], cwd=str(work), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (work / "context" / "Containerfile").read_text(encoding="utf-8")
    final = containerfile.split("AS final", 1)[1]
    assert final.index("ansible-galaxy collection install --offline") < final.index("USER 1000")
    context = work / "context" / "_build"
    assert (context / "aisec" / "aisec-gpu_host-0.0.0.tar.gz").exists()
    assert "jsonschema" in (context / "requirements.txt").read_text(encoding="utf-8")
    galaxy = yaml.safe_load((context / "requirements.yml").read_text(encoding="utf-8"))
    assert "awx.awx" in {c["name"] for c in galaxy["collections"]}

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users install it (needs docker and the test image).

1. ``ansible-galaxy collection build`` gives an artifact that holds only the collection (galaxy.yml build_ignore:
   no virtualenv, caches, test output or developer tooling) and is small;
2. ``ansible-galaxy collection install`` puts it into an empty project's collections directory;
3. from that project, a playbook that names the roles by their FQCN (aisec.gpu_host.preflight, common, firewall)
   converges a fresh systemd test host, and a second run changes nothing;
4. the same with the oldest ansible-core the collection claims (meta/runtime.yml), from ``.venv-oldest``
   (scripts/dev-env.sh), so the claim is tested. Skipped with the reason when that virtualenv is missing.

Run it with ``.venv/bin/python -m pytest -q tests/integration/galaxy`` (about two minutes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.dirname(sys.executable)
OLDEST_BIN = os.path.join(ROOT, ".venv-oldest", "bin")
MOLECULE_BASE = os.path.join(ROOT, ".config", "molecule", "config.yml")
IMAGE = os.environ.get("AISEC_TEST_IMAGE") or "aisec-gpu-host/debian12:latest"
MAX_ARTIFACT_BYTES = 2 * 1024 * 1024

PLAYBOOK = """
- name: Validate the input first
  hosts: nodes
  gather_facts: false
  any_errors_fatal: true
  roles:
    - role: aisec.gpu_host.preflight
      vars:
        preflight_roles: [common, firewall]

- name: Harden
  hosts: nodes
  gather_facts: false
  roles:
    - aisec.gpu_host.common
    - aisec.gpu_host.firewall
"""


def run(argv, **kwargs):
    kwargs.setdefault("timeout", 600)
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def docker_available():
    return shutil.which("docker") and run(["docker", "image", "inspect", IMAGE], timeout=30).returncode == 0


pytestmark = pytest.mark.skipif(not docker_available(), reason="needs docker and the test image %s "
                                "(scripts/build-image.sh)" % IMAGE)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = [p for p in os.listdir(out) if p.endswith(".tar.gz")]
    assert len(tarballs) == 1
    return os.path.join(out, tarballs[0])


def test_artifact_holds_only_the_collection(artifact):
    size = os.path.getsize(artifact)
    print("artifact %s: %d bytes" % (os.path.basename(artifact), size))
    assert size < MAX_ARTIFACT_BYTES
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    tops = {n.split("/", 1)[0] for n in names}
    for unwanted in (".venv", ".venv-oldest", ".cache", "artifacts", "tests", "molecule", "scripts", "benchmarks",
                     ".git", "compliance-report"):
        assert unwanted not in tops, unwanted
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for wanted in ("roles", "plugins", "playbooks", "meta", "docs", "README.md", "MANIFEST.json"):
        assert wanted in tops, wanted
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    assert os.path.basename(artifact) == "aisec-gpu_host-%s.tar.gz" % version


@pytest.fixture(scope="module")
def host():
    with open(MOLECULE_BASE, encoding="utf-8") as handle:
        platform = yaml.safe_load(handle)["platforms"][0]
    name = "aisec-galaxy-" + uuid.uuid4().hex[:8]
    args = ["docker", "run", "-d", "--name", name, "--hostname", name]
    args += ["--cap-add=%s" % cap for cap in platform.get("capabilities", [])]
    args += ["--security-opt=%s" % opt for opt in platform.get("security_opts", [])]
    args += ["--tmpfs=%s" % path for path in platform.get("tmpfs", [])]
    args += ["--volume=%s" % vol for vol in platform.get("volumes", [])]
    args += ["--cgroupns=%s" % platform["cgroupns_mode"], "--label", "aisec.gpu_host.test=galaxy", IMAGE]
    args += platform.get("command", "/lib/systemd/systemd").split()
    proc = run(args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    try:
        run(["docker", "exec", name, "systemctl", "is-system-running", "--wait"], timeout=120)
        proc = run(["docker", "exec", name, "apt-get", "update", "-qq"], timeout=300)
        assert proc.returncode == 0, proc.stderr
        yield name
    finally:
        run(["docker", "rm", "-f", name], timeout=120)


def project(tmp_path, artifact, host, bin_dir):
    """An empty project with the artifact installed into its collections directory."""
    proj = tmp_path / "project"
    (proj / "collections").mkdir(parents=True)
    proc = run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
                "-p", str(proj / "collections"), artifact], cwd=str(proj), env=env_for(proj))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (proj / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\ngathering = explicit\n"
                                      "interpreter_python = /usr/bin/python3\nstdout_callback = ansible.builtin.default\n")
    (proj / "site.yml").write_text(PLAYBOOK)
    (proj / "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"nodes": {"hosts": {host: {
        "ansible_connection": "community.docker.docker",
        "firewall_admin_cidrs": ["192.0.2.10/32"],
        "firewall_egress_policy": "log",
        "firewall_rollback_timeout": 60,
        "firewall_confirm_timeout": 20,
    }}}}}}))
    return proj


def env_for(proj):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    # The bundle's collections (community.docker etc.) come from the main virtualenv's site-packages.
    bundle = run([sys.executable, "-c", "import ansible_collections, os; "
                  "print(os.path.dirname(ansible_collections.__path__[0]))"]).stdout.strip()
    env.update(ANSIBLE_CONFIG=str(proj / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(proj / "collections") + os.pathsep + bundle)
    return env


def converge(proj, bin_dir):
    return run([os.path.join(bin_dir, "ansible-playbook"), "-i", "inventory.yml", "site.yml"], cwd=str(proj),
               env=env_for(proj))


def recap(stdout):
    match = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", stdout.split("PLAY RECAP")[-1])
    return tuple(int(x) for x in match.groups()) if match else None


def check_install(tmp_path, artifact, host, bin_dir):
    proj = project(tmp_path, artifact, host, bin_dir)
    listing = run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "list", "aisec.gpu_host", "--format", "json"],
                  cwd=str(proj), env=env_for(proj))
    assert listing.returncode == 0, listing.stderr
    paths = list(json.loads(listing.stdout))
    assert paths == [str(proj / "collections" / "ansible_collections")], paths
    first = converge(proj, bin_dir)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    assert str(proj / "collections") in first.stdout or "aisec.gpu_host.firewall" in first.stdout
    second = converge(proj, bin_dir)
    assert second.returncode == 0, second.stdout[-5000:]
    assert recap(second.stdout)[1] == 0, second.stdout[-5000:]
    out = run(["docker", "exec", host, "nft", "list", "table", "inet", "aisec"])
    assert out.returncode == 0 and "192.0.2.10" in out.stdout
    return first, second


def test_installed_collection_runs_its_roles_by_fqcn(tmp_path, artifact, host):
    first, second = check_install(tmp_path, artifact, host, VENV_BIN)
    print("first run %s, second run %s" % (recap(first.stdout), recap(second.stdout)))


def test_oldest_claimed_ansible_core(tmp_path, artifact, host):
    if not os.path.exists(os.path.join(OLDEST_BIN, "ansible-playbook")):
        pytest.skip("no .venv-oldest (scripts/dev-env.sh creates it with requirements-oldest.txt)")
    version = run([os.path.join(OLDEST_BIN, "ansible"), "--version"]).stdout.splitlines()[0]
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        claim = yaml.safe_load(handle)["requires_ansible"]
    print("%s, collection claims %s" % (version, claim))
    assert re.search(r"core 2\.17\.", version) and claim == ">=2.17.0"
    check_install(tmp_path, artifact, host, OLDEST_BIN)

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""inventories/example is a valid input for every role on every host.

The inventory is loaded with ansible-inventory (group_vars / host_vars merged per host), then per host:

* every ``<role>_*`` variable is an option of that role (no typos) and the role's argument spec accepts the
  values (types, choices, sub-options);
* the firewall addresses, ports and allow-list entries pass the firewall role's own input checks
  (the aisec.gpu_host.firewall_desired filter its pre-flight runs, plugins/module_utils/firewall_plan.py);
* every SSH key of access_users has the form and type prefix the access role's pre-flight requires
  (aisec.gpu_host.access_desired, plugins/module_utils/access_plan.py), and administrators use FIDO2 keys.

Values that come from Ansible Vault (``vault_*``) are templates and only type-checked as strings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.aisec.gpu_host.plugins.module_utils import access_plan, firewall_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INVENTORY = os.path.join(ROOT, "inventories", "example")
VENV_BIN = os.path.dirname(sys.executable)
ROLES = ("common", "firewall", "access", "patching")


def role_file(role, *parts):
    return os.path.join(ROOT, "roles", role, *parts)


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(name="hostvars", scope="module")
def fixture_hostvars():
    binary = os.path.join(VENV_BIN, "ansible-inventory")
    if not os.path.exists(binary):
        pytest.skip("ansible-inventory not next to the test python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections")})
    proc = subprocess.run([binary, "-i", INVENTORY, "--list"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return data["_meta"]["hostvars"]


def test_the_fleet(hostvars):
    assert sorted(hostvars) == sorted(["gpu-vllm-01", "gpu-vllm-02", "gpu-vllm-03", "gpu-vllm-04", "gpu-triton-01",
                                       "gpu-triton-02", "log-01", "bastion-01", "bastion-02"])
    for host, hvars in hostvars.items():
        assert hvars["ansible_user"] == "svc-ansible", host
        assert re.match(r"^10\.4[01]\.0\.\d+$|^10\.44\.0\.10$", hvars["ansible_host"]), host
    assert hostvars["gpu-triton-01"]["access_operator_services"] == ["tritonserver.service"]
    assert hostvars["bastion-01"]["firewall_admin_cidrs"] == ["10.39.0.0/24", "10.40.0.20/32"]
    assert hostvars["gpu-vllm-04"]["patching_driver_branch"] == "R580"


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_accept_every_host(hostvars, role):
    spec = load_yaml(role_file(role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]
    for host, hvars in hostvars.items():
        unknown = sorted(k for k in hvars if k.startswith(role + "_") and k not in spec)
        assert not unknown, "%s: %s sets unknown %s options %s" % (host, role, role, unknown)
        provided = {k: v for k, v in hvars.items() if k in spec}
        result = ArgumentSpecValidator(spec).validate(provided)
        assert not result.error_messages, "%s / %s: %s" % (host, role, result.error_messages)


def test_firewall_input_checker_accepts_every_host(hostvars):
    defaults = load_yaml(role_file("firewall", "defaults", "main.yml"))
    for host, hvars in hostvars.items():
        values = dict(defaults)
        values.update({k: v for k, v in hvars.items() if k.startswith("firewall_")})
        desired = firewall_plan.desired(values)
        assert desired["errors"] == [], (host, desired["errors"])
        assert values["firewall_admin_cidrs"], host


def test_access_keys_are_well_formed(hostvars):
    defaults = load_yaml(role_file("access", "defaults", "main.yml"))
    for host, hvars in hostvars.items():
        present = [u for u in hvars["access_users"] if u.get("state", "present") == "present"]
        assert any(u["role"] == "admin" and u["ssh_keys"] for u in present), host
        assert any(u["name"] == hvars["ansible_user"] and u["role"] == "automation" for u in present), host
        values = dict(defaults)
        values.update({k: v for k, v in hvars.items() if k.startswith("access_")})
        values["access_users"] = [dict(u, totp_secret="A" * 32) if "totp_secret" in u else u
                                  for u in values["access_users"]]  # vault references are templates here
        errors = access_plan.desired(values)["errors"]
        assert not [e for e in errors if "key #" in e or "SSH key" in e], (host, errors)
        for user in present:
            for key in user.get("ssh_keys", []):
                match = access_plan.KEY_RE.fullmatch(key.strip())
                assert match, (host, user["name"], key)
                assert match.group(2).startswith(access_plan.KEY_PREFIXES[match.group(1)]), (host, user["name"], key)
                if user["role"] == "admin":
                    assert match.group(1) in access_plan.SK_KEY_TYPES, (host, user["name"])

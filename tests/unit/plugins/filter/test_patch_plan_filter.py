# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the aisec.gpu_host.patch_plan filter (plugins/filter/patch_plan.py)."""

from __future__ import annotations

import jinja2
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.filter import patch_plan as flt

FACTS = {
    "os_family": "Debian",
    "aisec_gpu": {
        "driver": {"version": "535.183.01", "package_version": "535.183.01", "branch": "R535",
                   "install_method": "package"},
        "components": [{"name": "nvidia_driver", "version": "535.183.01", "family": "F"},
                       {"name": "nvidia_driver", "version": "535.183.01"}],
    },
    "dpkg": "ii\tnvidia-driver-535-server\t535.183.01-1\n",
    "madison": "nvidia-driver-535-server | 535.230.02-1 | http://r ./ Packages\n",
}
MATCH = {"summary": {"d": {"name": "nvidia_driver", "finding_count": 1, "required_version": "535.230.02"}}}


def test_filter_is_registered():
    assert flt.FilterModule().filters() == {"patch_plan": flt.patch_plan}


def test_filter_returns_the_plan():
    result = flt.patch_plan(FACTS, MATCH, {"components": ["driver"]})
    assert result["plan"]["driver"]["action"] == "upgrade"
    assert result["plan"]["driver"]["packages"][0]["to"] == "535.230.02-1"
    assert len(result["components"]) == 1 and len(result["not_evaluated"]) == 1


def test_filter_defaults_for_missing_arguments():
    result = flt.patch_plan({})
    assert result["plan"]["driver"]["action"] == "unsupported_platform" and result["target_branch"] == ""


@pytest.mark.parametrize("args, message", [
    (("nope", {}, {}), "patch_plan: facts must be a mapping"),
    (({}, {}, {"driver_branch": "latest"}), "patch_plan: patching_driver_branch must be a driver branch"),
])
def test_filter_errors_are_filter_errors(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        flt.patch_plan(*args)


def test_filter_through_jinja():
    # Plain Jinja2 (the playbook path through Ansible's templar is covered by molecule/patching).
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(flt.FilterModule().filters())
    expr = "{{ (facts | patch_plan(match, opts)).plan.driver.target_version }}"
    rendered = env.from_string(expr).render(facts=FACTS, match=MATCH, opts={"components": ["driver"], "driver_branch": "535"})
    assert rendered == "535.230.02"

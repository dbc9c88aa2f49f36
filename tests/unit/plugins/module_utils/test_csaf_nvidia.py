# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the NVIDIA CSAF vendor adapter (csaf_nvidia)."""

from __future__ import annotations

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_nvidia as nv
from ansible_collections.aisec.gpu_host.plugins.module_utils import vers

# ---------------------------------------------------------------------------
# The whitelist: every pattern has positive cases (text, role, branch) -> (pattern, vers, fix)
# ---------------------------------------------------------------------------

RANGE_CASES = [
    # prior_to
    ("All driver versions prior to 535.183.01", "R535", "prior_to", "vers:intdot/>=535|<535.183.01"),
    ("All driver version prior to 535.261.03", "R535", "prior_to", "vers:intdot/>=535|<535.261.03"),  # 5670 typo
    ("All versions prior to 25.07", None, "prior_to", "vers:intdot/<25.07"),
    ("all  driver versions   before 550.90.07", "R550", "prior_to", "vers:intdot/>=550|<550.90.07"),
    ("Versions prior to v1.2.3", None, "prior_to", "vers:intdot/<1.2.3"),
    # up_to_including
    ("All versions up to and including v1.16.1", None, "up_to_including", "vers:intdot/<=1.16.1"),
    ("All versions up to and including 1.17.0", None, "up_to_including", "vers:intdot/<=1.17.0"),
    ("All versions prior to and including 24.6.2", None, "up_to_including", "vers:intdot/<=24.6.2"),
    ("All driver versions through 535.54.03", "R535", "up_to_including", "vers:intdot/>=535|<=535.54.03"),
    # and_earlier
    ("0.17.2 and earlier", None, "and_earlier", "vers:intdot/<=0.17.2"),
    ("1.5.0, or prior", None, "and_earlier", "vers:intdot/<=1.5.0"),
    # vgpu_up_to
    ("535.161.08(All versions up to and including vGPU 16.5)", "R535", "vgpu_up_to", "vers:intdot/>=535|<=535.161.08"),
    ("550.127.05 (All versions prior to and including vGPU 17.4)", "R550", "vgpu_up_to",
     "vers:intdot/>=550|<=550.127.05"),
    ("All BMC firmware versions prior to 2.09.00", None, "prior_to", "vers:intdot/<2.09.00"),
    ("All SBIOS versions prior to 1.25", None, "prior_to", "vers:intdot/<1.25"),
    # release_up_to (monthly driver releases)
    ("545.37.02(All versions up to and including the January 2024 release)", "R545", "release_up_to",
     "vers:intdot/>=545|<=545.37.02"),
    # exact / exact_vgpu / exact_release
    ("535.216.01", "R535", "exact", "vers:intdot/535.216.01"),
    ("v1.17", None, "exact", "vers:intdot/1.17.0"),
    ("535.183.01(vGPU 16.6)", "R535", "exact_vgpu", "vers:intdot/535.183.01"),
    ("550.54.10(February 2024 release)", "R550", "exact_release", "vers:intdot/550.54.10"),
    # labelled_set (firmware releases with their versions)
    ("HGX-22.10-1-rc57 (1.3.0/1.3.1)", None, "labelled_set", "vers:intdot/1.3.0|1.3.1"),
    ("HGX-22.10-1-rc63 (1.4.0)", None, "labelled_set", "vers:intdot/1.4.0"),
    # all_versions
    ("All versions", None, "all_versions", "vers:intdot/*"),
    ("All driver versions", "R470", "all_versions", "vers:intdot/>=470|<471"),
    # between
    ("1.3.0 through 1.5.0", None, "between", "vers:intdot/>=1.3.0|<=1.5.0"),
    ("Versions 535.54.03 to 535.104.05", "R535", "between", "vers:intdot/>=535.54.03|<=535.104.05"),
]

FIX_CASES = [
    ("535.183.01", "R535", "exact", "vers:intdot/>=535.183.01|<536", "535.183.01"),
    ("1.16.2", None, "exact", "vers:intdot/>=1.16.2", "1.16.2"),
    ("v1.17", None, "exact", "vers:intdot/>=1.17.0", "1.17.0"),  # 5585: "v1.17" = 1.17.0
    ("535.183.01(vGPU 16.6)", "R535", "exact_vgpu", "vers:intdot/>=535.183.01|<536", "535.183.01"),
    ("550.144.03 (vGPU 17.5)", "R550", "exact_vgpu", "vers:intdot/>=550.144.03|<551", "550.144.03"),
    ("550.54.10(February 2024 release)", "R550", "exact_release", "vers:intdot/>=550.54.10|<551", "550.54.10"),
    ("1.6.0 and later", None, "or_later", "vers:intdot/>=1.6.0", "1.6.0"),
    ("535.230.02 or newer", "R535", "or_later", "vers:intdot/>=535.230.02|<536", "535.230.02"),
    ("Version 24.9.2 or later", None, "or_later", "vers:intdot/>=24.9.2", "24.9.2"),
    ("HGX-22.10-1-rc70 (1.6.0)", None, "labelled", "vers:intdot/>=1.6.0", "1.6.0"),
]


@pytest.mark.parametrize("text,branch,pattern,expected", RANGE_CASES)
def test_range_patterns(text, branch, pattern, expected):
    cond = nv.parse_condition(text, "affected", branch=branch)
    assert cond["pattern"] == pattern
    assert cond["vers"] == expected
    assert cond["fix_version"] is None
    assert cond["uncertain"] is False
    vers.parse(cond["vers"])  # canonical


@pytest.mark.parametrize("text,branch,pattern,expected,fix", FIX_CASES)
def test_fix_patterns(text, branch, pattern, expected, fix):
    cond = nv.parse_condition(text, "fixed", branch=branch)
    assert cond["pattern"] == pattern
    assert cond["vers"] == expected
    assert cond["fix_version"] == fix
    vers.parse(cond["vers"])


def test_every_pattern_is_tested():
    assert {c[2] for c in RANGE_CASES} >= {name for name, _r, _k in nv.RANGE_PATTERNS}
    assert {c[2] for c in FIX_CASES} >= {name for name, _r, _k in nv.FIX_PATTERNS}


def test_fix_not_cumulative_gives_exact_version():
    cond = nv.parse_condition("1.16.2", "fixed", cumulative=False)
    assert cond["vers"] == "vers:intdot/1.16.2"
    assert cond["versions"] == ["1.16.2"]
    # "or later" stays a lower bound regardless
    assert nv.parse_condition("1.6.0 and later", "fixed", cumulative=False)["vers"] == "vers:intdot/>=1.6.0"


def test_monthly_release_is_kept():
    assert nv.parse_condition("550.54.10(February 2024 release)", "fixed", branch="R550")["release"] == "February 2024"


def test_vgpu_release_is_kept():
    assert nv.parse_condition("535.183.01(vGPU 16.6)", "fixed", branch="R535")["release"] == "16.6"
    assert nv.parse_condition("535.161.08(All versions up to and including vGPU 16.5)", "affected",
                              branch="R535")["release"] == "16.5"


def test_range_containment_semantics():
    prior = vers.parse(nv.parse_condition("All driver versions prior to 535.183.01", "affected", "R535")["vers"])
    assert prior.contains("535.161.08")
    assert not prior.contains("535.183.01")
    assert not prior.contains("470.256.02")  # bounded to the branch
    upto = vers.parse(nv.parse_condition("535.161.08(All versions up to and including vGPU 16.5)", "affected",
                                         "R535")["vers"])
    assert upto.contains("535.161.08") and not upto.contains("535.183.01")
    fixed = vers.parse(nv.parse_condition("535.183.01", "fixed", "R535")["vers"])
    assert fixed.contains("535.216.01") and not fixed.contains("550.90.07") and not fixed.contains("535.161.08")


# ---------------------------------------------------------------------------
# Qualifiers
# ---------------------------------------------------------------------------


def test_cdi_qualifier_with_bound():
    text = "All versions up to and including 1.17.7 (CDI mode only for versions prior to 1.17.5)"
    cond = nv.parse_condition(text, "affected")
    assert cond["vers"] == "vers:intdot/<=1.17.7"
    assert cond["qualifier"] == {"text": "CDI mode only for versions prior to 1.17.5", "below": "1.17.5"}
    assert cond["uncertain"] is True
    assert cond["text"] == text


def test_only_when_qualifier_applies_to_whole_range():
    cond = nv.parse_condition("All versions up to and including 0.12.1 (only when CDI is enabled)", "affected")
    assert cond["vers"] == "vers:intdot/<=0.12.1"
    assert cond["qualifier"] == {"text": "only when CDI is enabled", "below": None}
    cond = nv.parse_condition(
        "All versions up to and including 0.17.2 (only when device-list-strategy is cdi-annotations and/or cdi-cri)",
        "affected")
    assert cond["qualifier"]["below"] is None


@pytest.mark.parametrize("text,reason", [
    ("All versions up to and including 1.17.7 (CDI mode only for versions prior to 1.18.0)", "above the range"),
    ("1.17.7 (only when CDI is enabled)", "qualifier"),
    ("All versions up to and including 1.17.7 (when the moon is full)", "no whitelisted pattern"),
])
def test_qualifier_rejections(text, reason):
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.parse_condition(text, "affected")
    assert reason in exc.value.reason


# ---------------------------------------------------------------------------
# Not understood: never guessed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text,role,branch,reason", [
    ("GB300 0.8 dev drop", "affected", None, "pre-release"),
    ("GB300 0.8 dev drop", "fixed", None, "pre-release"),
    ("All driver versions prior to 550.144.03", "affected", "R535", "outside driver branch R535"),
    ("535.183.01", "fixed", "R550", "outside driver branch R550"),
    ("All driver versions prior to 535.183.01", "fixed", "R535", "not a valid condition for a fixed or recommended status"),
    ("1.6.0 and later", "affected", None, "not a valid condition for an affected"),
    ("See the release notes", "affected", None, "no whitelisted pattern"),
    ("Prior to release 12", "affected", None, "no whitelisted pattern"),
    ("", "affected", None, "empty"),
    ("1.5.0 through 1.3.0", "affected", None, "empty or reversed"),
    ("HGX-22.10-1-rc57 (1.3.0/1.3.0)", "affected", None, "repeat"),
    ("All versions up to 1.2.3", "affected", None, "no whitelisted pattern"),  # inclusive? not guessed
    ("All driver versions prior to 474.82 for support of GeForce Kepler desktop", "affected", "R470",
     "no whitelisted pattern"),
    ("All versions prior to CUDA Toolkit v12.4", "affected", None, "no whitelisted pattern"),
    ("CUDA Toolkit v12.4U1", "fixed", None, "no whitelisted pattern"),
    ("LTS:2.8.2-46, 23.04, 23.07, 23.09", "affected", None, "no whitelisted pattern"),
    ("545.37.02(All versions up to and including the Smarch 2024 release)", "affected", "R545", "no whitelisted"),
    ("R535", "fixed", None, "no whitelisted pattern"),
])
def test_not_understood(text, role, branch, reason):
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.parse_condition(text, role, branch=branch)
    assert reason in exc.value.reason


def test_unknown_role():
    with pytest.raises(nv.NotUnderstood, match="unknown status role"):
        nv.parse_condition("1.2.3", "maybe")


def test_model_version_needs_model_word():
    # "GB300 0.8" is version 0.8 only when GB300 is a word of the label/architecture.
    cond = nv.parse_condition("GB300 0.8", "fixed", model_words={"gb300", "nvl72"})
    assert cond["pattern"] == "model_version" and cond["fix_version"] == "0.8"
    cond = nv.parse_condition("GB200 1.2", "affected", model_words={"gb200"})
    assert cond["vers"] == "vers:intdot/1.2"
    with pytest.raises(nv.NotUnderstood):
        nv.parse_condition("GB300 0.8", "fixed", model_words={"gb200"})


def test_normalize_version():
    assert nv.normalize_version("v1.17") == "1.17.0"
    assert nv.normalize_version("V2.0") == "2.0.0"
    assert nv.normalize_version("1.17") == "1.17"
    assert nv.normalize_version("535.183.01") == "535.183.01"
    assert nv.normalize_version("v1.17", pad_v_prefixed=False) == "1.17"
    with pytest.raises(nv.NotUnderstood):
        nv.normalize_version("1.17-rc1")


# ---------------------------------------------------------------------------
# Architecture and vocabulary
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,os_key,branch,vgpu", [
    ("Linux(R535)", "linux", "R535", None),
    ("Linux (R535)", "linux", "R535", None),
    ("Linux(R550 vGPU 17)", "linux", "R550", "17"),
    ("Ubuntu(R535 vGPU 16)", "linux", "R535", "16"),
    ("Red Hat Enterprise Linux KVM(R550 vGPU 17)", "linux", "R550", "17"),
    ("VMware vSphere(R535 vGPU 16)", "vmware", "R535", "16"),
    ("Citrix Hypervisor(R550 vGPU 17)", "citrix", "R550", "17"),
    ("Azure Local(R550 vGPU 17)", "azure_local", "R550", "17"),
    ("Windows(R570)", "windows", "R570", None),
    ("Linux", "linux", None, None),
    ("All", None, None, None),
    ("HMC", None, None, None),
])
def test_parse_architecture(name, os_key, branch, vgpu):
    arch = nv.parse_architecture(name)
    assert (arch["os"], arch["branch"], arch["vgpu"]) == (os_key, branch, vgpu)


def test_parse_architecture_rejects_unknown_parenthesis():
    with pytest.raises(nv.NotUnderstood, match="not a driver branch") as exc:
        nv.parse_architecture("Linux(Cloud Gaming)")
    assert exc.value.category == "architecture"
    assert nv.parse_architecture("")["platform"] is None


@pytest.mark.parametrize("label,arch,expected", [
    ("Tesla", "Linux(R535)", ("nvidia_driver", "datacenter")),
    ("GeForce", None, ("nvidia_driver", "geforce")),
    ("NVIDIA RTX, Quadro, NVS", None, ("nvidia_driver", "rtx")),
    ("Guest driver", None, ("nvidia_driver", "vgpu_guest")),
    ("Virtual GPU Manager", None, ("nvidia_driver", "vgpu_host")),
    ("NVIDIA GPU Display Driver", None, ("nvidia_driver", None)),
    ("NVIDIA Container Toolkit", "All", ("nvidia_container_toolkit", None)),
    ("NVIDIA GPU Operator", None, ("nvidia_gpu_operator", None)),
    ("NVIDIA Kubernetes Device Plugin", None, ("k8s_device_plugin", None)),
    ("NVIDIA MIG Manager", None, ("mig_manager", None)),
    ("NVIDIA Fabric Manager", None, ("nvidia_fabric_manager", None)),
    ("NVIDIA Data Center GPU Manager (DCGM)", None, ("nvidia_dcgm", None)),
    ("DCGM Exporter", None, ("dcgm_exporter", None)),
    ("CUDA Toolkit", None, ("cuda_toolkit", None)),
    ("NVIDIA Triton Inference Server", None, ("triton_inference_server", None)),
    ("TensorRT", None, ("tensorrt", None)),
    ("NVIDIA TensorRT-LLM", None, ("tensorrt_llm", None)),
    ("NVIDIA NeMo Framework", None, ("nemo_framework", None)),
    ("NVIDIA Dynamo", None, ("dynamo", None)),
    ("Hopper VBIOS", None, ("nvidia_vbios", "hopper_vbios")),
    ("Hopper", "VBIOS", ("nvidia_vbios", "hopper")),
    ("Hopper HGX 8-GPU", "HMC", ("firmware", "hopper_hgx_8_gpu")),
    ("GB200 NVL72", "BMC", ("firmware", "gb200_nvl72")),
    # outside the vocabulary: never misfiled
    ("NVIDIA NeMo Curator", None, None),
    ("TensorRT Model Optimizer", None, None),
    ("Cloud Gaming Guest driver", None, None),
    ("Jetson Linux", "Linux", None),
    ("", None, None),
])
def test_classify_label(label, arch, expected):
    assert nv.classify_label(label, arch) == expected


def test_vocabulary_constants():
    assert len(nv.COMPONENTS) == 16 and len(set(nv.COMPONENTS)) == 16
    assert nv.DRIVER_FAMILIES == ("datacenter", "geforce", "rtx", "vgpu_host", "vgpu_guest")
    assert nv.BRANCHED_COMPONENTS <= set(nv.COMPONENTS)
    assert nv.slug("Hopper HGX 8-GPU") == "hopper_hgx_8_gpu"


# ---------------------------------------------------------------------------
# Products (flattened as csaf_document.flatten_product_tree does)
# ---------------------------------------------------------------------------


def _product(arch, label, name, pid="p1"):
    path = [{"category": "vendor", "name": "NVIDIA"}]
    if arch is not None:
        path.append({"category": "architecture", "name": arch})
    path.append({"category": "product_version", "name": label})
    return {"product_id": pid, "name": name, "path": path, "helper": {}, "relationship": None}


def test_adapt_product_driver():
    out = nv.adapt_product(_product("Linux(R535)", "Tesla", "All driver versions prior to 535.183.01"), "affected")
    assert out["component"] == "nvidia_driver" and out["family"] == "datacenter"
    assert out["os"] == "linux" and out["branch"] == "R535"
    assert out["condition"]["vers"] == "vers:intdot/>=535|<535.183.01"


def test_adapt_product_vgpu_guest():
    out = nv.adapt_product(_product("Linux(R535 vGPU 16)", "Guest driver", "535.183.01(vGPU 16.6)"), "fixed")
    assert (out["family"], out["branch"], out["vgpu"]) == ("vgpu_guest", "R535", "16")
    assert out["condition"]["fix_version"] == "535.183.01" and out["condition"]["release"] == "16.6"


def test_adapt_product_toolkit_has_no_branch():
    out = nv.adapt_product(_product("All", "NVIDIA Container Toolkit", "v1.17"), "fixed")
    assert out["component"] == "nvidia_container_toolkit" and out["branch"] is None and out["os"] is None
    assert out["condition"]["fix_version"] == "1.17.0"


def test_adapt_product_platform_filter_runs_before_reading():
    # Windows versions are outside the Linux branch scheme; they are skipped, not "not understood".
    prod = _product("Windows(R570)", "Tesla", "All driver versions prior to 572.13")
    assert nv.adapt_product(prod, "affected", platforms={"linux"}) is None
    with pytest.raises(nv.NotUnderstood, match="outside driver branch"):
        nv.adapt_product(prod, "affected")
    assert nv.adapt_product(_product("Azure Local(R550 vGPU 17)", "Virtual GPU Manager",
                                     "553.20(All versions up to and including vGPU 17.4)"),
                            "affected", platforms={"linux"}) is None


def test_adapt_product_branch_from_versions_without_architecture():
    out = nv.adapt_product(_product(None, "GeForce", "All driver versions prior to 550.90.07"), "affected")
    assert out["branch"] == "R550"
    assert out["condition"]["vers"] == "vers:intdot/<550.90.07"


def test_adapt_product_firmware_model_words():
    out = nv.adapt_product(_product("HMC", "GB300 NVL72", "GB300 0.8"), "fixed")
    assert out["component"] == "firmware" and out["family"] == "gb300_nvl72"
    assert out["condition"]["fix_version"] == "0.8"
    with pytest.raises(nv.NotUnderstood, match="pre-release"):
        nv.adapt_product(_product("HMC", "GB300 NVL72", "GB300 0.8 dev drop"), "affected")


def test_adapt_product_rejections():
    with pytest.raises(nv.NotUnderstood, match="not in the component vocabulary") as exc:
        nv.adapt_product(_product("Linux", "NVIDIA App", "All versions prior to 11.0.1"), "affected")
    assert exc.value.category == "product"
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.parse_condition("See the release notes", "affected")
    assert exc.value.category == "condition"
    prod = _product("Linux(R535)", "Tesla", "x")
    prod["path"] = prod["path"][:2]
    with pytest.raises(nv.NotUnderstood, match="no product_version branch"):
        nv.adapt_product(prod, "affected")


def test_is_nvidia_document_and_url():
    assert nv.is_nvidia_document({"publisher_name": "NVIDIA Product Security"})
    assert not nv.is_nvidia_document({"publisher_name": "ACME"})
    doc = {"document": {"publisher": {"name": "PSIRT", "namespace": "https://www.nvidia.com/security"}}}
    assert nv.is_nvidia_document({"publisher_name": "PSIRT"}, doc)
    doc["document"]["publisher"]["namespace"] = "https://nvidia.com.evil.example/"
    assert not nv.is_nvidia_document({"publisher_name": "PSIRT"}, doc)
    assert nv.advisory_url("5551") == "https://nvidia.custhelp.com/app/answers/detail/a_id/5551"
    assert nv.advisory_url("NV-1") is None
    assert nv.advisory_url(None) is None

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
    assert {c[2] for c in RANGE_CASES + REAL_RANGE_CASES} >= {name for name, _r, _k in nv.RANGE_PATTERNS}
    assert {c[2] for c in FIX_CASES + REAL_FIX_CASES} >= {name for name, _r, _k in nv.FIX_PATTERNS}


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
    ("All driver versions prior to 474.82 for support of GeForce Kepler desktop", "affected", "R470",
     "no whitelisted pattern"),
    ("CUDA Toolkit v12.4.1U1", "fixed", None, "two-part release"),
    ("v1.3.0 rc15", "fixed", None, "pre-release"),  # the driver/firmware numbering has no pre-releases
    ("0.0 to v1.3.0 rc14", "affected", None, "pre-release"),
    ("2.3.5 and 2.3.4", "fixed", None, "not ascending"),
    ("Versions 1.0 to 2.x", "affected", None, "no whitelisted pattern"),
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


def test_parse_architecture_parentheses_that_are_not_branches():
    assert nv.parse_architecture("Linux(Cloud Gaming)")["gaming"] is True
    assert nv.parse_architecture("")["platform"] is None
    with pytest.raises(nv.NotUnderstood, match="unbalanced") as exc:
        nv.parse_architecture("Linux R535)")
    assert exc.value.category == "architecture"


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


# ---------------------------------------------------------------------------
# Real strings of NVIDIA's corpus (github.com/NVIDIA/product-security, commit dbb4ada): short version
# texts only, the bulletin id as a comment. Issue #12, failure classes 1-7.
# ---------------------------------------------------------------------------

# Class 1: several operating systems in one architecture; every OS named counts.
@pytest.mark.parametrize("name,oses,branch,vgpu", [
    ("Windows, Linux", ("windows", "linux"), None, None),  # 5472, 5509, 5723
    ("Linux, Windows", ("windows", "linux"), None, None),  # 5389, 5456, 5723
    ("Windows, Linux, macOS", ("windows", "macos", "linux"), None, None),  # 5641, 5648
    ("Windows, Linux, MacOS", ("windows", "macos", "linux"), None, None),  # 5580
    ("Windows and Linux", ("windows", "linux"), None, None),  # 5318, 5334
    ("Linux and Windows", ("windows", "linux"), None, None),  # 5373
    ("Linux/MacOS", ("macos", "linux"), None, None),  # 5819
    ("Linux x86_64, Linux sbsa Jetson, Windows, Linux for Tegra, DriveOS", ("windows", "linux"), None, None),  # 5661
    ("Citrix Hypervisor, VMware vSphere, Red Hat Enterprise Linux KVM, Ubuntu(R535 vGPU 16)",
     ("vmware", "citrix", "linux"), "R535", "16"),  # 5491, 5551, 5586
    ("XenServer, VMware vSphere, Red Hat Enterprise Linux KVM, Ubuntu(R580 vGPU 19)",
     ("vmware", "citrix", "linux"), "R580", "19"),  # 5703, 5821
    ("Azure Local, Windows Server(R580 vGPU 19)", ("windows", "azure_local"), "R580", "19"),  # 5821
    ("RHEL 8, RHEL 9, Ubuntu20, Ubuntu22", ("linux",), None, None),  # 5584
])
def test_architecture_names_several_operating_systems(name, oses, branch, vgpu):
    arch = nv.parse_architecture(name)
    assert (arch["oses"], arch["branch"], arch["vgpu"]) == (oses, branch, vgpu)
    assert nv.applies_to_platforms(arch, {"linux"}) is ("linux" in oses)


# Class 3: parenthesised text that is no driver branch.
@pytest.mark.parametrize("name,branch,vgpu,line,gaming", [
    ("All(4.5)", None, None, "4.5", False),  # 5857 (DCGM)
    ("All(4.8)", None, None, "4.8", False),  # 5857 (DCGM Exporter)
    ("Linux(v22)", None, None, "v22", False),  # 5535 (Triton)
    ("Jetson Linux(35)", None, None, "35", False),  # 5442
    ("Linux(DOCA 2.5)", None, None, "DOCA 2.5", False),  # 5654
    ("Linux(R580 Gaming)", "R580", None, None, True),  # 5703
    ("Linux(Gaming)", None, None, None, True),  # 5312
    ("Linux(Cloud Gaming)", None, None, None, True),  # 5821
    ("Red Hat Enterprise Linux KVM, VMware vSphere(Cloud Gaming)", None, None, None, True),  # 5821
    ("XenServer, VMware vSphere, Red Hat Enterprise Linux KVM, Ubuntu(vGPU 16)", None, "16", None, False),  # 5747
    ("Linux(R580 vGPU)", "R580", None, None, False),  # 5703
    ("Citrix Hypervisor, Linux Kernel-based Virtual Machine (KVM) hypervisors, VMware vSphere",
     None, None, None, False),  # 5319: parentheses inside the name
])
def test_architecture_parentheses(name, branch, vgpu, line, gaming):
    arch = nv.parse_architecture(name)
    assert (arch["branch"], arch["vgpu"], arch["line"], arch["gaming"]) == (branch, vgpu, line, gaming)


# Class 2 and 4: version texts.
REAL_RANGE_CASES = [
    ("0.0 - 26.03", "triton_inference_server", "between", "vers:pypi/<=26.03"),  # 5860
    ("0.0-26.05", "triton_inference_server", "between", "vers:pypi/<=26.05"),  # 5865
    ("v0 - v10.16.1", "tensorrt", "between", "vers:pypi/<=10.16.1"),  # 5855
    ("0 to v1.1.0", "dynamo", "between", "vers:pypi/<=1.1.0"),  # 5842
    ("0.0  to 4.5.2", "nvidia_dcgm", "between", "vers:pypi/<=4.5.2"),  # 5857
    ("Versions 0.0 to 2.7.2", "nemo_framework", "between", "vers:pypi/<=2.7.2"),  # 5839
    ("v19.11 through v24.08", "triton_inference_server", "between", "vers:pypi/>=19.11.0|<=24.08.0"),  # 5565
    ("22.09 to 24.03", "triton_inference_server", "between", "vers:pypi/>=22.09|<=24.03"),  # 5535
    ("All versions prior to r26.02", "triton_inference_server", "prior_to", "vers:pypi/<26.02"),  # 5790
    ("All versions prior to CUDA Toolkit 12.9 Update 1", "cuda_toolkit", "prior_to", "vers:pypi/<12.9.1"),  # 5661
    ("All versions prior to CUDA Toolkit v12.4", "cuda_toolkit", "prior_to", "vers:pypi/<12.4.0"),  # 5517
    ("All versions up to and including CUDA Toolkit 12.5U1", "cuda_toolkit", "up_to_including",
     "vers:pypi/<=12.5.1"),  # 5564
    ("All versions up to CUDA Toolkit 12.8", "cuda_toolkit", "up_to", "vers:pypi/<12.8"),  # 5594
    ("0.0 to v1.3.0 rc14", "tensorrt_llm", "between", "vers:pypi/<=1.3.0rc14"),  # 5840
    ("0.0  to v1.3.0 rc11", "tensorrt_llm", "between", "vers:pypi/<=1.3.0rc11"),  # 5840
    ("All versions prior to r2.0.0rc0", "nemo_framework", "prior_to", "vers:pypi/<2.0.0rc0"),  # 5580
    ("550.54.15(All versions up to and including vGPU17.1)", "nvidia_driver", "vgpu_up_to",
     "vers:intdot/>=550|<=550.54.15"),  # 5551
    ("580.105.08(All versions prior to and including vGPU software 19.3)", "nvidia_driver", "vgpu_up_to",
     "vers:intdot/>=580|<=580.105.08"),  # 5747
]

REAL_FIX_CASES = [
    ("r25.10", "triton_inference_server", "exact", "25.10"),  # 5816
    ("26.04", "triton_inference_server", "exact", "26.04"),  # 5860
    ("CUDA Toolkit 12.9 Update 1", "cuda_toolkit", "exact", "12.9.1"),  # 5661
    ("CUDA Toolkit v12.4U1", "cuda_toolkit", "exact", "12.4.1"),  # 5517
    ("11.6 Update 2", "cuda_toolkit", "exact", "11.6.2"),  # 5334
    ("CUDA Toolkit 13.1", "cuda_toolkit", "exact", "13.1"),  # 5755
    ("2.3.4 and 2.3.5 (latest)", "nvidia_dcgm", "two_versions", "2.3.4"),  # 5328
    ("v1.3.0 rc15", "tensorrt_llm", "exact", "1.3.0rc15"),  # 5840
    ("v1.2", "tensorrt_llm", "exact", "1.2.0"),  # 5805
    ("r2.0.0rc0", "nemo_framework", "exact", "2.0.0rc0"),  # 5580
    ("v11.0", "tensorrt", "exact", "11.0.0"),  # 5855
    ("580.126.09(vGPU software 19.4)", "nvidia_driver", "exact_vgpu", "580.126.09"),  # 5747
    ("570.211.01(vGPU software 18.6)", "nvidia_driver", "exact_vgpu", "570.211.01"),  # 5747
]


@pytest.mark.parametrize("text,component,pattern,expected", REAL_RANGE_CASES)
def test_real_range_texts(text, component, pattern, expected):
    branch = "R%s" % text[:3] if component == "nvidia_driver" else None
    cond = nv.parse_condition(text, "affected", branch=branch, scheme=nv.component_scheme(component))
    assert (cond["pattern"], cond["vers"]) == (pattern, expected)
    vers.parse(cond["vers"])  # canonical


@pytest.mark.parametrize("text,component,pattern,fix", REAL_FIX_CASES)
def test_real_fix_texts(text, component, pattern, fix):
    branch = "R%s" % text[:3] if component == "nvidia_driver" else None
    cond = nv.parse_condition(text, "fixed", branch=branch, scheme=nv.component_scheme(component))
    assert (cond["pattern"], cond["fix_version"]) == (pattern, fix)
    vers.parse(cond["vers"])


def test_up_to_leaves_the_bound_open():
    cond = nv.parse_condition("All versions up to CUDA Toolkit 12.8", "affected", scheme="pypi")  # 5594
    assert cond["bound"] == "12.8" and not vers.parse(cond["vers"]).contains("12.8")


def test_prerelease_order_in_conditions():
    # 5840: "0.0 to v1.3.0 rc16" affected, "v1.3.0 rc17" fixed; 1.3.0rc17 and the release are outside the range.
    affected = vers.parse(nv.parse_condition("0.0 to v1.3.0 rc16", "affected", scheme="pypi")["vers"])
    assert affected.contains("1.3.0rc15") and affected.contains("1.2.1")
    assert not affected.contains("1.3.0rc17") and not affected.contains("1.3.0")
    fixed = vers.parse(nv.parse_condition("v1.3.0 rc17", "fixed", scheme="pypi")["vers"])
    assert fixed.contains("1.3.0rc17") and fixed.contains("1.3.0") and not fixed.contains("1.3.0rc16")
    # the intdot scheme cannot order them: never read "1.3.0rc15" as 1.3.0
    with pytest.raises(nv.NotUnderstood, match="pre-release"):
        nv.parse_condition("v1.3.0 rc15", "fixed")


# Class 5: numbering lines.
@pytest.mark.parametrize("component,version,line", [
    ("triton_inference_server", "2.40", "server"), ("triton_inference_server", "24.11", "container"),
    ("nemo_framework", "2.1.0", "package"), ("nemo_framework", "24.12", "container"),
    ("nemo_framework", "2.0.0rc0", "package"), ("cuda_toolkit", "12.6", None),
])
def test_version_lines(component, version, line):
    assert nv.version_line(component, version) == line


def test_version_line_outside_every_scheme():
    with pytest.raises(nv.NotUnderstood, match="numbering schemes"):
        nv.version_line("triton_inference_server", "12.0")


def test_condition_mixing_lines_is_not_understood():
    prod = _product("Linux", "Triton Inference Server", "2.40 to 24.11")
    with pytest.raises(nv.NotUnderstood, match="mixes the numbering schemes") as exc:
        nv.adapt_product(prod, "affected")
    assert exc.value.context["component"] == "triton_inference_server"


def test_adapt_product_line_and_scheme():
    out = nv.adapt_product(_product("Windows, Linux", "NVIDIA NeMo Framework", "All versions prior to 25.02"),
                           "affected", platforms={"linux"})  # 5641
    assert (out["line"], out["scheme"], out["oses"]) == ("container", "pypi", ("windows", "linux"))
    out = nv.adapt_product(_product("All platforms", "NeMo Framework", "2.5.0"), "fixed")  # 5718
    assert out["line"] == "package" and out["condition"]["fix_version"] == "2.5.0"


# Class 7: driver product labels.
@pytest.mark.parametrize("label,expected", [
    ("NVIDIA RTX/Quadro, NVS", ("nvidia_driver", "rtx")),  # 5312, 5353
    ("NVIDIA RTX/ Quadro, NVS", ("nvidia_driver", "rtx")),  # 5312, 5557
    ("NVIDIA RTX PRO, RTX, Quadro", ("nvidia_driver", "rtx")),  # 5747
    ("GeForce, NVIDIA RTX/Quadro, NVS", ("nvidia_driver", ("geforce", "rtx"))),  # 5353
    ("vGPU software (guest driver)", ("nvidia_driver", "vgpu_guest")),  # 5312 ... 5468
    ("vGPU software (Virtual GPU Manager)", ("nvidia_driver", "vgpu_host")),  # 5312 ... 5468
    ("Studio", ("nvidia_driver", ("geforce", "rtx"))),  # 5312 ... 5551 (Windows)
    ("NVIDIA Cloud Gaming (guest driver)", None),  # 5383: outside the vocabulary
    ("NeMo Agent ToolKit", None),  # 5726: not NeMo Framework
    ("BioNeMo Framework", None),  # 5808
])
def test_driver_labels(label, expected):
    assert nv.classify_label(label, "Linux(R535)") == expected


def test_cloud_gaming_rows_are_outside_the_vocabulary():
    # 5703: "Linux(R580 Gaming)" > "Guest driver": the Cloud Gaming guest driver, never a data-centre driver
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.adapt_product(_product("Linux(R580 Gaming)", "Guest driver", "580.95.05(September 2025 Release)"), "fixed")
    assert exc.value.category == "product" and "Cloud Gaming" in exc.value.reason


def test_multi_family_row():
    out = nv.adapt_product(_product("Linux(R470)", "GeForce, NVIDIA RTX/Quadro, NVS",
                                    "All driver versions prior to 470.141.03"), "affected")  # 5353
    assert out["families"] == ("geforce", "rtx") and out["branch"] == "R470"


def test_not_understood_carries_what_was_recognised():
    # 5703: a vGPU 16 (R535) row whose fixed version reads 575.274.02
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.adapt_product(_product("Linux(R535 vGPU 16)", "Guest driver", "575.274.02(vGPU 16.12)"), "fixed")
    assert exc.value.context["component"] == "nvidia_driver"
    assert exc.value.context["families"] == ("vgpu_guest",)
    assert exc.value.context["branch"] == ("R535", "R575")  # either branch may be meant
    with pytest.raises(nv.NotUnderstood) as exc:
        nv.adapt_product(_product("Linux(v22)", "Tesla", "535.1"), "fixed")
    assert exc.value.category == "architecture" and exc.value.context["component"] == "nvidia_driver"

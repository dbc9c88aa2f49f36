# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table-driven tests of the pure gpu_facts parsers."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import gpu_facts_parsers as P

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "gpu")


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), encoding="utf-8") as fh:
        return fh.read()


# ---------------------------------------------------------------------------
# nvidia-smi -q -x
# ---------------------------------------------------------------------------


def test_h100_sxm_fixture():
    data = P.parse_nvidia_smi_xml(fixture("nvidia-smi", "h100_sxm.xml"))
    assert data["driver_version"] == "550.127.05"
    assert data["cuda_version"] == "12.4"
    assert data["attached_gpus"] == 1
    assert data["timestamp"] == "Tue Nov 12 09:14:27 2024"
    (gpu,) = data["gpus"]
    assert gpu == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "brand": "NVIDIA",
        "architecture": "Hopper",
        "uuid": "GPU-6b2f0d4e-8e5a-2c1b-9f3d-7a1e4c2b8d90",
        "serial": "1652223012345",
        "minor_number": 0,
        "pci_bus_id": "00000000:18:00.0",
        "pci_device_id": "0x2330",
        "board_part_number": "692-2G520-0200-000",
        "vbios_version": "96.00.99.00.01",
        "gsp_firmware_version": "550.127.05",
        "inforom": {"image": "G520.0200.00.05", "oem": "2.1", "ecc": "7.16", "pwr": None},
        "ecc_mode": {"current": "Enabled", "pending": "Enabled"},
        "mig_mode": {"current": "Disabled", "pending": "Disabled"},
        "mig_devices": 0,
        "persistence_mode": "Enabled",
        "compute_mode": "Default",
        "memory_total_mib": 81559,
        "virtualization_mode": "None",
        "host_vgpu_mode": None,
        "family": "datacenter",
        "source": "nvidia-smi",
    }


def test_a100_eight_gpus_with_mig():
    data = P.parse_nvidia_smi_xml(fixture("nvidia-smi", "a100_8gpu_mig.xml").encode())
    gpus = data["gpus"]
    assert data["driver_version"] == "535.183.01"
    assert data["attached_gpus"] == len(gpus) == 8
    assert [g["index"] for g in gpus] == list(range(8))
    assert [g["minor_number"] for g in gpus] == list(range(8))
    assert gpus[0]["pci_bus_id"] == "00000000:07:00.0"
    assert gpus[7]["pci_bus_id"] == "00000000:BD:00.0"
    assert len({g["uuid"] for g in gpus}) == 8
    assert all(g["family"] == "datacenter" for g in gpus)
    assert all(g["memory_total_mib"] == 81920 for g in gpus)
    assert all(g["gsp_firmware_version"] is None for g in gpus)
    assert [g["mig_devices"] for g in gpus] == [3, 1, 3, 1, 3, 1, 3, 0]
    assert gpus[0]["mig_mode"] == {"current": "Enabled", "pending": "Enabled"}
    assert gpus[7]["mig_mode"] == {"current": "Enabled", "pending": "Disabled"}


def test_geforce_fixture():
    (gpu,) = P.parse_nvidia_smi_xml(fixture("nvidia-smi", "geforce_rtx4090.xml"))["gpus"]
    assert gpu["family"] == "geforce"
    assert gpu["serial"] is None
    assert gpu["board_part_number"] is None
    assert gpu["ecc_mode"] == {"current": "Disabled", "pending": "Disabled"}
    assert gpu["mig_mode"] == {"current": None, "pending": None}
    assert gpu["inforom"]["ecc"] is None


def test_vgpu_guest_fixture():
    data = P.parse_nvidia_smi_xml(fixture("nvidia-smi", "vgpu_guest_a100_40c.xml"))
    (gpu,) = data["gpus"]
    assert gpu["virtualization_mode"] == "VGPU"
    assert gpu["family"] == "vgpu_guest"
    assert gpu["name"] == "GRID A100-40C"


MINIMAL_XML = (
    '<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">\n'
    "<nvidia_smi_log><driver_version>535.129.03</driver_version><attached_gpus>1</attached_gpus>"
    '<gpu id="00000000:10:00.0"><product_name>Tesla T4</product_name></gpu></nvidia_smi_log>'
)


def test_minimal_document_missing_elements_are_none():
    data = P.parse_nvidia_smi_xml(MINIMAL_XML)
    assert data["cuda_version"] is None
    gpu = data["gpus"][0]
    assert gpu["pci_bus_id"] == "00000000:10:00.0"  # from the id attribute
    assert gpu["memory_total_mib"] is None
    assert gpu["brand"] is None
    assert gpu["family"] == "datacenter"  # from the name
    assert set(gpu) == set(P.empty_gpu(0, "x"))


def test_no_gpus():
    data = P.parse_nvidia_smi_xml("<nvidia_smi_log><attached_gpus>0</attached_gpus></nvidia_smi_log>")
    assert data["gpus"] == []
    assert data["attached_gpus"] == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no XML"),
        ("   \n", "no XML"),
        ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", "invalid XML"),
        ("<nvidia_smi_log><gpu></nvidia_smi_log>", "invalid XML"),
        ("<other/>", "unexpected XML root"),
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            "<nvidia_smi_log>&lol2;</nvidia_smi_log>",
            "declares entities",
        ),
    ],
)
def test_invalid_xml(text, message):
    with pytest.raises(P.ParseError, match=message):
        P.parse_nvidia_smi_xml(text)


def test_xml_size_cap():
    with pytest.raises(P.ParseError, match="larger than 100 bytes"):
        P.parse_nvidia_smi_xml(b"<nvidia_smi_log>" + b" " * 200 + b"</nvidia_smi_log>", max_bytes=100)
    with pytest.raises(P.ParseError, match="larger than 100 bytes"):
        P.parse_nvidia_smi_xml("<nvidia_smi_log>" + " " * 200 + "</nvidia_smi_log>", max_bytes=100)


# ---------------------------------------------------------------------------
# Driver family
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "brand, name, mode, expected",
    [
        ("NVIDIA", "NVIDIA H100 80GB HBM3", "None", "datacenter"),
        ("Tesla", "Tesla V100-SXM2-32GB", "None", "datacenter"),
        ("NVIDIA", "NVIDIA L4", "Pass-Through", "datacenter"),
        ("GeForce", "NVIDIA GeForce RTX 4090", "None", "geforce"),
        ("GeForce RTX", "NVIDIA GeForce RTX 3090", None, "geforce"),
        ("Titan", "NVIDIA TITAN RTX", None, "geforce"),
        ("Quadro", "Quadro RTX 8000", None, "rtx"),
        ("Quadro RTX", "Quadro RTX 6000", None, "rtx"),
        ("NVIDIA RTX", "NVIDIA RTX A6000", "None", "rtx"),
        ("NVS", "NVS 510", None, "rtx"),
        ("NVIDIA Virtual Compute Server", "GRID A100-40C", None, "vgpu_guest"),
        ("NVIDIA RTX Virtual Workstation", "NVIDIA A40-48Q", None, "vgpu_guest"),
        ("GRID", "GRID T4-16Q", None, "vgpu_guest"),
        ("NVIDIA", "NVIDIA A100-SXM4-80GB", "Host VGPU", "vgpu_host"),
        ("NVIDIA", "NVIDIA L40S", "Host VSGA", "vgpu_host"),
        ("NVIDIA", "NVIDIA A100-40C", "VGPU", "vgpu_guest"),
        # no brand (old drivers): the product name decides
        (None, "Tesla T4", None, "datacenter"),
        ("N/A", "NVIDIA A100-PCIE-40GB", None, "datacenter"),
        (None, "NVIDIA H200", None, "datacenter"),
        (None, "NVIDIA GeForce GTX 1080 Ti", None, "geforce"),
        (None, "Quadro P4000", None, "rtx"),
        (None, "NVIDIA RTX A4000", None, "rtx"),
        (None, "NVIDIA RTX 6000 Ada Generation", None, "rtx"),
        (None, "GRID V100D-32C", None, "vgpu_guest"),
        (None, "Some Future Board", None, None),
        (None, None, None, None),
        ("Unknown", "", None, None),
    ],
)
def test_driver_family(brand, name, mode, expected):
    assert P.driver_family(brand, name, mode) == expected


# ---------------------------------------------------------------------------
# /proc/driver/nvidia
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture_name, version, module, arch",
    [
        ("version_proprietary_550.txt", "550.127.05", "proprietary", "x86_64"),
        ("version_open_560.txt", "560.35.03", "open", "x86_64"),
        ("version_open_535_aarch64.txt", "535.183.01", "open", "aarch64"),
    ],
)
def test_proc_version_fixtures(fixture_name, version, module, arch):
    info = P.parse_proc_driver_version(fixture("proc", fixture_name))
    assert (info["version"], info["kernel_module"], info["arch"]) == (version, module, arch)
    assert info["gcc_version"].startswith("gcc version")


@pytest.mark.parametrize(
    "text, version, module",
    [
        ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (dvs-builder@U22)  Tue Sep 23 2025",
         "580.95.05", "open"),
        ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.135  Fri Jan 10 20:00:00 UTC 2025", "550.135", "proprietary"),
        ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64 595.71.05", "595.71.05", "open"),
        ("NVRM version: NVIDIA UNIX Open Kernel Module  570.86.15  Release Build\n", "570.86.15", "open"),
    ],
)
def test_proc_version_variants(text, version, module):
    info = P.parse_proc_driver_version(text)
    assert (info["version"], info["kernel_module"]) == (version, module)


@pytest.mark.parametrize("text", ["", "garbage\n", "NVRM version: NVIDIA UNIX Kernel Module\n"])
def test_proc_version_invalid(text):
    with pytest.raises(P.ParseError):
        P.parse_proc_driver_version(text)


def test_proc_params_default_and_hardened():
    default = P.parse_proc_params(fixture("proc", "params_default_550.txt"))
    hardened = P.parse_proc_params(fixture("proc", "params_hardened_550.txt"))
    assert default["DeviceFileMode"] == 438 == 0o666
    assert hardened["DeviceFileMode"] == 432 == 0o660
    assert hardened["DeviceFileGID"] == 990
    assert default["RmProfilingAdminOnly"] == 1
    assert default["InitializeSystemMemoryAllocations"] == 1
    assert default["ResmanDebugLevel"] == 4294967295
    assert default["RegistryDwords"] == ""
    assert default["ExcludedGpus"] == ""
    assert len(default) == 42


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DeviceFileMode: 432\n", {"DeviceFileMode": 432}),
        ('RegistryDwords: "RMSecBusResetEnable=1"\n', {"RegistryDwords": "RMSecBusResetEnable=1"}),
        ("TemporaryFilePath: /var/tmp\n", {"TemporaryFilePath": "/var/tmp"}),
        ("Negative: -1\n", {"Negative": -1}),
        ("no colon here\n: empty key\n9Bad: 1\n", {}),
        ("", {}),
        (None, {}),
    ],
)
def test_proc_params_lines(text, expected):
    assert P.parse_proc_params(text) == expected


def test_proc_gpu_information():
    info = P.parse_proc_gpu_information(fixture("proc", "gpu_information_h100.txt"))
    assert info == {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-6b2f0d4e-8e5a-2c1b-9f3d-7a1e4c2b8d90",
        "vbios_version": "96.00.99.00.01",
        "pci_bus_id": "00000000:18:00.0",
        "minor_number": 0,
        "bus_type": "PCIe",
        "excluded": False,
    }
    assert P.parse_proc_gpu_information("")["name"] is None


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0000:18:00.0", "00000000:18:00.0"),
        ("0000:bd:00.0", "00000000:BD:00.0"),
        ("00000000:1B:00.0", "00000000:1B:00.0"),
        ("0001:0a:1f.7", "00000001:0A:1F.7"),
        ("18:00.0", "00000000:18:00.0"),
        ("not-a-bdf", None),
        ("0000:18:00.9", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_pci_bus_id(value, expected):
    assert P.normalize_pci_bus_id(value) == expected


@pytest.mark.parametrize(
    "version, expected",
    [("535.183.01", "R535"), ("550.127.05", "R550"), ("580.95.05", "R580"), (" 470.256.02", "R470"),
     ("1.17.8", None), ("", None), (None, None), ("unknown", None)],
)
def test_driver_branch(version, expected):
    assert P.driver_branch(version) == expected


@pytest.mark.parametrize(
    "version, expected",
    [
        ("1:3.3.9", "3.3.9"),
        ("1:4.1.1-1", "4.1.1"),
        ("550.127.05-0ubuntu0.22.04.1", "550.127.05"),
        ("3:550.127.05-1.el9", "550.127.05"),
        ("10.3.0.26-1+cuda12.5", "10.3.0.26"),
        ("4.1.1-4.0.4-1", "4.1.1-4.0.4"),
        ("1.17.8", "1.17.8"),
        ("", None),
        (None, None),
    ],
)
def test_upstream_version(version, expected):
    assert P.upstream_version(version) == expected


@pytest.mark.parametrize(
    "fixture_name, expected",
    [
        ("nvidia_ctk_version.txt", "1.17.8"),
        ("nvidia_container_cli_version.txt", "1.16.1"),
        ("nv_fabricmanager_version.txt", "550.127.05"),
        ("dcgmi_version.txt", "3.3.9"),
    ],
)
def test_tool_version_fixtures(fixture_name, expected):
    assert P.parse_tool_version(fixture("cmd", fixture_name)) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("NVIDIA Container Runtime version 1.17.6\n", "1.17.6"),
        ("Version : 4.1.1\nBuild ID : 15\n", "4.1.1"),
        ("DCGM Version: 3.3.5\n", "3.3.5"),
        ("nvidia-mig-parted version v0.5.5\n", "0.5.5"),
        ("dcgm-exporter version 3.3.8-3.6.0\n", "3.3.8-3.6.0"),
        ("no numbers here", None),
        ("", None),
        (None, None),
    ],
)
def test_tool_version_variants(text, expected):
    assert P.parse_tool_version(text) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("81559 MiB", 81559), ("0 MiB", 0), ("N/A", None), ("12 GiB", None), (None, None)],
)
def test_parse_mib(value, expected):
    assert P.parse_mib(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [(" Enabled ", "Enabled"), ("N/A", None), ("[N/A]", None), ("", None), (None, None),
     ("Requested functionality has been deprecated", None), ("None", "None")],
)
def test_clean_value(value, expected):
    assert P.clean_value(value) == expected


def test_format_mode_and_natural_key():
    assert P.format_mode(stat.S_IFCHR | 0o666) == "0666"
    assert P.format_mode(stat.S_IFDIR | 0o2755) == "2755"
    assert sorted(["nvidia10", "nvidia2", "nvidiactl", "nvidia1"], key=P.natural_key) == [
        "nvidia1", "nvidia2", "nvidia10", "nvidiactl"]


# ---------------------------------------------------------------------------
# Package databases
# ---------------------------------------------------------------------------


def test_dpkg_query_fixture():
    packages = P.parse_dpkg_query(fixture("cmd", "dpkg_query_ubuntu2204.txt"))
    assert packages["nvidia-driver-550-server-open"] == "550.127.05-0ubuntu0.22.04.1"
    assert packages["libnvidia-compute-550-server"] == "550.127.05-0ubuntu0.22.04.1"  # amd64 and i386: one entry
    assert packages["datacenter-gpu-manager"] == "1:3.3.9"
    assert "amd64-microcode" not in packages  # un: not installed
    assert "nvidia-driver-535-server" not in packages  # rc: only configuration files left
    assert "cuda-drivers" not in packages
    assert len(packages) == 12


@pytest.mark.parametrize(
    "line, expected",
    [
        ("ii \tfoo\t1.0\n", {"foo": "1.0"}),
        ("hi \tfoo\t1.0\n", {"foo": "1.0"}),  # held
        ("iU \tfoo\t1.0\n", {"foo": "1.0"}),  # unpacked, not configured
        ("iF \tfoo\t1.0\n", {"foo": "1.0"}),
        ("un \tfoo\t\n", {}),
        ("pn \tfoo\t\n", {}),
        ("rc \tfoo\t1.0\n", {}),
        ("ii \tfoo\n", {}),
        ("garbage\n", {}),
        ("ii \tlib\t2.0\tamd64\nii \tlib\t2.0\ti386\n", {"lib": "2.0"}),
    ],
)
def test_dpkg_query_status(line, expected):
    assert P.parse_dpkg_query(line) == expected


def test_rpm_query_fixture():
    packages = P.parse_rpm_query(fixture("cmd", "rpm_query_rhel9.txt"))
    assert packages["nvidia-driver"] == "3:550.127.05-1.el9"
    assert packages["datacenter-gpu-manager-4-core"] == "1:4.1.1-1"
    assert packages["microcode_ctl"] == "4:20240910-1.el9_5"
    assert P.parse_rpm_query("a\t1-1\na\t2-1\nbroken\n") == {"a": "1-1"}


@pytest.mark.parametrize(
    "packages, expected",
    [
        ({"nvidia-driver-550-server-open": "550.127.05-0ubuntu1", "libnvidia-compute-550-server": "550.127.05-0ubuntu1"},
         ("nvidia-driver-550-server-open", "550.127.05-0ubuntu1")),
        ({"nvidia-driver": "3:550.127.05-1.el9", "kmod-nvidia-open-dkms": "3:550.127.05-1.el9"},
         ("nvidia-driver", "3:550.127.05-1.el9")),
        ({"cuda-drivers": "550.127.05-1", "nvidia-open": "560.35.03-1"}, ("nvidia-open", "560.35.03-1")),
        ({"cuda-drivers-550": "550.127.05-1"}, ("cuda-drivers-550", "550.127.05-1")),
        ({"nvidia-driver-cuda": "3:550.127.05-1.el9"}, ("nvidia-driver-cuda", "3:550.127.05-1.el9")),
        ({"linux-modules-nvidia-550-server-open-generic": "6.8.0-45.45"}, (None, None)),  # kernel version
        ({"linux-modules-nvidia-550-server-open-generic": "6.8.0-45.45", "nvidia-utils-550-server": "550.127.05-0ubuntu1"},
         ("nvidia-utils-550-server", "550.127.05-0ubuntu1")),
        ({"nvidia-dkms-550": "550.127.05-1", "nvidia-utils-550": "550.127.05-1"}, ("nvidia-dkms-550", "550.127.05-1")),
        ({"nvidia-driver-550:amd64": "550.127.05-1"}, ("nvidia-driver-550:amd64", "550.127.05-1")),
        ({"libnvidia-compute-550": "550.127.05-1", "nvidia-container-toolkit": "1.17.8-1"}, (None, None)),
        ({}, (None, None)),
        (None, (None, None)),
    ],
)
def test_driver_package(packages, expected):
    assert P.driver_package(packages) == expected


# ---------------------------------------------------------------------------
# fwupd
# ---------------------------------------------------------------------------


def test_fwupd_fixture():
    devices = P.parse_fwupd_devices(fixture("cmd", "fwupd_get_devices.json"))
    assert [d["name"] for d in devices] == [
        "Super Server", "Xeon(R) Platinum 8480+", "HGX_FW_GPU_SXM_1", "HGX_FW_BMC_0", "SAMSUNG MZQL23T8HCLS-00A07"]
    bmc = devices[3]
    assert bmc == {
        "name": "HGX_FW_BMC_0",
        "device_id": "0c5b2e8a3f1d4a6b9e7c2d1f0a3b5c7e9d1f2a4b",
        "version": "HGX-22.10-1-rc80",
        "vendor": "NVIDIA",
        "guids": ["7b3c1f0e-9d2a-5c4b-8e6f-1a2b3c4d5e6f"],
        "plugin": "redfish",
        "flags": ["internal", "updatable", "registered"],
        "version_format": "plain",
        "summary": "Redfish device",
    }
    assert devices[2]["guids"] == ["f2d8cf2d-3a4e-5b95-8a5d-2fbd1c9b8e61"]  # a bare string GUID
    assert devices[0]["flags"][-1] == "usable-during-update"


@pytest.mark.parametrize(
    "text, expected",
    [('{"Devices": []}', []), ("{}", []), ('{"Devices": [1, "x", {"Name": "n"}]}', 1)],
)
def test_fwupd_edge_cases(text, expected):
    devices = P.parse_fwupd_devices(text)
    assert devices == expected if isinstance(expected, list) else len(devices) == expected


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"Devices": {}}'])
def test_fwupd_invalid(text):
    with pytest.raises(P.ParseError):
        P.parse_fwupd_devices(text)


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("nvcr.io/nvidia/tritonserver:24.08-py3", ("nvcr.io/nvidia/tritonserver", "24.08-py3", None)),
        ("registry:5000/team/app", ("registry:5000/team/app", None, None)),
        ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2", None)),
        ("nginx@sha256:abcd", ("nginx", None, "sha256:abcd")),
        ("nginx:1.27@sha256:abcd", ("nginx", "1.27", "sha256:abcd")),
        ("ubuntu", ("ubuntu", None, None)),
        ("sha256:5c1f1d0a9b5e", (None, None, "sha256:5c1f1d0a9b5e")),
        ("5c1f1d0a9b5e", (None, None, None)),
        ("", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_split_image_reference(ref, expected):
    assert P.split_image_reference(ref) == expected


def test_container_ps_fixture():
    containers = P.parse_container_ps(fixture("cmd", "docker_ps.txt"), "docker")
    assert len(containers) == 7
    assert containers[0] == {
        "runtime": "docker",
        "id": "3f1c2d4e5a6b",
        "name": "triton",
        "image": "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3",
        "repository": "nvcr.io/nvidia/tritonserver",
        "tag": "24.08-trtllm-python-py3",
        "digest": None,
    }
    assert containers[5]["digest"].startswith("sha256:")
    assert P.parse_container_ps("\n\nonlyid\n", "podman") == []


@pytest.mark.parametrize(
    "repository, tag, expected",
    [
        ("nvcr.io/nvidia/tritonserver", "24.08-py3", ("triton_inference_server", "24.08")),
        ("nvcr.io/nvidia/tritonserver", "25.01-vllm-python-py3", ("triton_inference_server", "25.01")),
        ("nvcr.io/nvidia/k8s/dcgm-exporter", "3.3.8-3.6.0-ubuntu22.04", ("dcgm_exporter", "3.6.0")),
        ("nvidia/dcgm-exporter", "2.0.13-2.1.2-ubuntu18.04", ("dcgm_exporter", "2.1.2")),
        ("nvcr.io/nvidia/k8s/dcgm-exporter", "4.2.3", ("dcgm_exporter", "4.2.3")),
        ("mirror.local:5000/nvidia/k8s-device-plugin", "v0.16.2", ("k8s_device_plugin", "0.16.2")),
        ("nvcr.io/nvidia/k8s-device-plugin", "v0.17.0-ubi9", ("k8s_device_plugin", "0.17.0")),
        ("nvcr.io/nvidia/cloud-native/k8s-mig-manager", "v0.8.0-ubuntu20.04", ("mig_manager", "0.8.0")),
        ("nvcr.io/nvidia/gpu-operator", "v24.9.0", ("nvidia_gpu_operator", "24.9.0")),
        ("nvcr.io/nvidia/k8s/container-toolkit", "v1.17.0-ubuntu20.04", ("nvidia_container_toolkit", "1.17.0")),
        ("nvcr.io/nvidia/cloud-native/dcgm", "3.3.9-1-ubuntu22.04", ("nvidia_dcgm", "3.3.9")),
        ("nvcr.io/nvidia/tensorrt-llm/release", "0.21.0", ("tensorrt_llm", "0.21.0")),
        ("nvcr.io/nvidia/ai-dynamo/vllm-runtime", "0.3.2", ("dynamo", "0.3.2")),
        ("nvcr.io/nvidia/tritonserver", "latest", None),
        ("nvcr.io/nvidia/tritonserver", None, None),
        ("library/dcgm", "3.3.9", None),  # not an NVIDIA namespace
        ("example/container-toolkit", "1.0.0", None),
        ("vllm/vllm-openai", "v0.6.3", None),  # not in the csaf_match vocabulary
        (None, "1.0", None),
    ],
)
def test_image_component(repository, tag, expected):
    result = P.image_component(repository, tag)
    assert (result and (result["name"], result["version"])) == expected


# ---------------------------------------------------------------------------
# Python and CUDA
# ---------------------------------------------------------------------------


def test_python_probe_fixture():
    version, packages, error = P.parse_python_probe(fixture("cmd", "python_probe.json"))
    assert version == "3.10.12"
    assert packages["vllm"] == "0.6.3.post1"
    assert error is None


@pytest.mark.parametrize("text", ["", "Traceback (most recent call last):", '{"packages": []}', "[1]"])
def test_python_probe_invalid(text):
    with pytest.raises(P.ParseError):
        P.parse_python_probe(text)


def test_python_probe_drops_non_strings():
    assert P.parse_python_probe('{"packages": {"a": "1", "b": 2}}')[1] == {"a": "1"}


@pytest.mark.parametrize(
    "text, expected",
    [
        (fixture("cuda", "version_12.4.json"), "12.4.1"),
        (fixture("cuda", "version_10.2.txt"), "10.2.89"),
        ("{not json", None),
        ('{"cuda": {"name": "CUDA SDK"}}', None),
        ('["x"]', None),
        ("", None),
    ],
)
def test_cuda_version_file(text, expected):
    assert P.parse_cuda_version_file(text) == expected


def test_python_probe_script_runs_here():
    """The probe script must run under the current interpreter and find pytest."""
    import json
    import subprocess
    import sys

    prefix = P.venv_prefix(sys.executable, os.path.isfile) or ""
    out = subprocess.run(
        [os.path.realpath(sys.executable), "-I", "-S", "-c", P.PYTHON_PROBE_SCRIPT, prefix, "pytest",
         "surely-not-installed-dist"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    data = json.loads(out)
    assert data["error"] is None and data["paths"]
    assert data["packages"] == {"pytest": pytest.__version__}
    assert P.parse_python_probe(out)[1] == {"pytest": pytest.__version__}


# ---------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------


def _full_host_facts():
    return {
        "driver": {"version": "550.127.05", "branch": "R550"},
        "gpus": P.parse_nvidia_smi_xml(fixture("nvidia-smi", "a100_8gpu_mig.xml"))["gpus"],
        "container_toolkit_version": "1.17.8",
        "fabric_manager_version": "550.127.05",
        "dcgm_version": "3.3.9",
        "cuda_toolkits": [{"path": "/usr/local/cuda-12.6", "version": "12.6.2"},
                          {"path": "/usr/local/cuda-12.4", "version": "12.4.1"}],
        "packages": P.parse_dpkg_query(fixture("cmd", "dpkg_query_ubuntu2204.txt")),
        "python_packages": [
            {"name": "vllm", "version": "0.6.3.post1", "interpreter": "/usr/bin/python3"},
            {"name": "tensorrt_llm", "version": "0.13.0", "interpreter": "/usr/bin/python3"},
            {"name": "tensorrt_llm", "version": "0.14.0rc1", "interpreter": "/opt/trtllm/bin/python"},
            {"name": "nemo_toolkit", "version": "2.0.0+git4f2a1c", "interpreter": "/usr/bin/python3"},
            {"name": "ai-dynamo", "version": "0.3.2.post1", "interpreter": "/usr/bin/python3"},
        ],
        "containers": P.parse_container_ps(fixture("cmd", "docker_ps.txt"), "docker"),
        "firmware": P.parse_fwupd_devices(fixture("cmd", "fwupd_get_devices.json")),
    }


def test_components_full_host():
    components, notes = P.build_components(_full_host_facts())
    assert components == [
        {"name": "nvidia_driver", "version": "550.127.05", "family": "datacenter", "branch": "R550"},
        {"name": "nvidia_vbios", "version": "92.00.45.00.06", "family": "Ampere HGX 8-GPU"},
        {"name": "nvidia_container_toolkit", "version": "1.17.8"},
        {"name": "nvidia_fabric_manager", "version": "550.127.05"},
        {"name": "nvidia_dcgm", "version": "3.3.9"},
        {"name": "cuda_toolkit", "version": "12.4.1"},  # lowest of 12.6.2, 12.4.1 and the package's 12.4.1
        {"name": "tensorrt", "version": "10.3.0.26"},
        {"name": "tensorrt_llm", "version": "0.13.0"},
        {"name": "nemo_framework", "version": "2.0.0"},
        {"name": "dynamo", "version": "0.3.2"},
        {"name": "triton_inference_server", "version": "24.08"},
        {"name": "dcgm_exporter", "version": "3.6.0"},
        {"name": "k8s_device_plugin", "version": "0.16.2"},
    ]
    assert notes == []  # 0.14.0rc1 is kept (a pre-release), 0.13.0 is the lower version


def test_components_pass_csaf_match_validation():
    """The contract with aisec.gpu_host.csaf_match: its validator accepts the list unchanged."""
    csaf_match = pytest.importorskip("ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_match")
    for facts in (
        _full_host_facts(),
        {"driver": {"version": "550.127.05"}, "gpus": P.parse_nvidia_smi_xml(fixture("nvidia-smi", "h100_sxm.xml"))["gpus"]},
        {"driver": {"version": "560.35.03"},
         "gpus": P.parse_nvidia_smi_xml(fixture("nvidia-smi", "geforce_rtx4090.xml"))["gpus"]},
        {"driver": {"version": "550.90.07"},
         "gpus": P.parse_nvidia_smi_xml(fixture("nvidia-smi", "vgpu_guest_a100_40c.xml"))["gpus"]},
        {"packages": P.parse_rpm_query(fixture("cmd", "rpm_query_rhel9.txt"))},
    ):
        components, _notes = P.build_components(facts)
        assert components
        validated = csaf_match.validate_components(components)
        assert [c["name"] for c in validated] == [c["name"] for c in components]


@pytest.mark.parametrize(
    "version, expected",
    [("550.127.05", "550.127.05"), ("v1.17.8", "1.17.8"), ("2.4.0+cu121", "2.4.0"), ("0.6.3.post1", "0.6.3"),
     ("1.0-post2", "1.0"), ("0.21.0rc1", "0.21.0rc1"), ("1.0.0.dev20240101", "1.0.0.dev20240101"),
     ("1.3.0rc17", "1.3.0rc17"), ("v1.17.0-rc.1", "1.17.0-rc.1"), ("95.02.3C.40.E0", None),
     ("3.3.8-3.6.0", None), ("HGX-22.10-1-rc80", None), ("", None), (None, None), (12, "12")],
)
def test_component_version(version, expected):
    assert P.component_version(version) == expected


def _gpus(name, arch, count):
    return [dict(P.empty_gpu(i, "nvidia-smi"), name=name, architecture=arch) for i in range(count)]


@pytest.mark.parametrize(
    "gpus, expected",
    [
        (_gpus("NVIDIA H100 80GB HBM3", "Hopper", 8), "Hopper HGX 8-GPU"),
        (_gpus("NVIDIA H100 80GB HBM3", "Hopper", 4), "Hopper HGX 4-GPU"),
        (_gpus("NVIDIA A100-SXM4-80GB", "Ampere", 8), "Ampere HGX 8-GPU"),
        (_gpus("NVIDIA H200", "Hopper", 8), "Hopper HGX 8-GPU"),
        (_gpus("NVIDIA B200", "Blackwell", 8), "Blackwell HGX 8-GPU"),
        (_gpus("NVIDIA H100 80GB HBM3", "Hopper", 1), None),
        (_gpus("NVIDIA H100 PCIe", "Hopper", 8), None),
        (_gpus("NVIDIA H100 NVL", "Hopper", 8), None),
        (_gpus("NVIDIA L40S", "Ada Lovelace", 8), None),
        (_gpus("NVIDIA A100-SXM4-80GB", None, 8), None),
        (_gpus("NVIDIA A100-SXM4-80GB", "Ampere", 4) + _gpus("NVIDIA A100-SXM4-40GB", "Ampere", 4), None),
        ([], None),
    ],
)
def test_hgx_board(gpus, expected):
    assert P.hgx_board(gpus) == expected


def test_components_mixed_families_and_unknown_family():
    gpus = [dict(P.empty_gpu(0, "nvidia-smi"), family="datacenter", vbios_version="1"),
            dict(P.empty_gpu(1, "nvidia-smi"), family="rtx", vbios_version="2"),
            dict(P.empty_gpu(2, "nvidia-smi"), family="rtx", vbios_version="2")]
    components, notes = P.build_components({"driver": {"version": "535.183.01"}, "gpus": gpus})
    assert components == [
        {"name": "nvidia_driver", "version": "535.183.01", "family": "datacenter", "branch": "R535"},
        {"name": "nvidia_driver", "version": "535.183.01", "family": "rtx", "branch": "R535"},
    ]
    assert notes == []
    components, notes = P.build_components({"driver": {"version": "535.183.01"}, "gpus": [P.empty_gpu(0, "sysfs")]})
    assert components == []
    assert notes == ["nvidia_driver 535.183.01 left out of components: the driver family is unknown "
                     "(no GPU with a known product brand or name)"]


def test_components_empty_host():
    assert P.build_components({}) == ([], [])
    assert P.build_components({"driver": {"version": None}, "gpus": [], "packages": {}}) == ([], [])


def test_rpm_components():
    packages = P.parse_rpm_query(fixture("cmd", "rpm_query_rhel9.txt"))
    assert P.build_components({"packages": packages}) == ([
        {"name": "cuda_toolkit", "version": "12.4.1"},
        {"name": "dcgm_exporter", "version": "4.0.4"},
    ], [])


# --- Issue #13 finding 9: which interpreters python_interpreters may run -------------------------------------------


class _Stat:
    def __init__(self, mode, uid=0):
        self.st_mode = mode
        self.st_uid = uid


def _lstat(table):
    def lstat(path):
        try:
            return table[path]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory") from None
    return lstat


_DIR, _FILE, _LINK = 0o040755, 0o100755, 0o120777
_SYSTEM = {"/": _Stat(_DIR), "/usr": _Stat(_DIR), "/usr/bin": _Stat(_DIR), "/usr/bin/python3.11": _Stat(_FILE)}


@pytest.mark.parametrize("changes, reason", [
    ({}, None),
    ({"/usr/bin/python3.11": _Stat(_FILE, uid=1001)}, "/usr/bin/python3.11 is owned by uid 1001, not by root"),
    ({"/usr/bin/python3.11": _Stat(0o100775)}, "/usr/bin/python3.11 is writable by its group"),
    ({"/usr/bin": _Stat(0o040777)}, "/usr/bin is writable by group and others"),
    ({"/usr": _Stat(0o041757)}, "/usr is writable by others"),  # sticky does not help: entries can be added
    ({"/": _Stat(_DIR, uid=5)}, "/ is owned by uid 5"),
    ({"/usr/bin/python3.11": _Stat(_LINK)}, "is a symbolic link"),
    ({"/usr/bin/python3.11": _Stat(_DIR)}, "is not a regular file"),
])
def test_interpreter_trust_checks_the_whole_chain(changes, reason):
    table = dict(_SYSTEM, **changes)
    problem = P.interpreter_trust_problem("/usr/bin/python3.11", _lstat(table), {0})
    assert problem is None if reason is None else reason in problem


def test_interpreter_trust_other_cases():
    venv = {"/": _Stat(_DIR), "/opt": _Stat(_DIR), "/opt/vllm": _Stat(_DIR, uid=999),
            "/opt/vllm/bin": _Stat(_DIR, uid=999), "/opt/vllm/bin/python": _Stat(_FILE, uid=999)}
    assert "owned by uid 999" in P.interpreter_trust_problem("/opt/vllm/bin/python", _lstat(venv), {0})
    assert P.interpreter_trust_problem("/opt/vllm/bin/python", _lstat(venv), {0, 999}) is None  # the module's user
    assert "cannot stat" in P.interpreter_trust_problem("/nope/python", _lstat({}), {0})
    assert "absolute" in P.interpreter_trust_problem("bin/python", _lstat({}), {0})
    # stop: only the part below the stop directory is checked (the unit tests' fake host)
    below = _lstat({"/tmp/x/bin": _Stat(_DIR), "/tmp/x/bin/py": _Stat(_FILE)})
    assert P.interpreter_trust_problem("/tmp/x/bin/py", below, {0}, stop="/tmp/x") is None


def test_venv_prefix_and_home():
    assert P.venv_prefix("/opt/vllm/venv/bin/python", {"/opt/vllm/venv/pyvenv.cfg"}.__contains__) == "/opt/vllm/venv"
    assert P.venv_prefix("/usr/bin/python3", set().__contains__) is None
    assert P.parse_pyvenv_home("home = /usr/bin\ninclude-system-site-packages = false\n") == "/usr/bin"
    assert P.parse_pyvenv_home("home = relative/bin\n") is None and P.parse_pyvenv_home(None) is None


def test_python_probe_script_runs_no_pth_file(tmp_path):
    """A .pth file in the venv's site-packages is never executed (-S), its distributions are still found."""
    import subprocess
    import sys

    lib = tmp_path / "venv" / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    (lib / "demo_pkg-1.3.0rc17.dist-info").mkdir(parents=True)
    metadata = "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.3.0rc17\n"
    (lib / "demo_pkg-1.3.0rc17.dist-info" / "METADATA").write_text(metadata)
    marker = tmp_path / "pwned"
    (lib / "evil.pth").write_text("import os; open(%r, 'w').write('x')\n" % str(marker))
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    out = subprocess.run([os.path.realpath(sys.executable), "-I", "-S", "-c", P.PYTHON_PROBE_SCRIPT,
                          str(tmp_path / "venv"), "demo_pkg"], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    assert P.parse_python_probe(out)[1] == {"demo_pkg": "1.3.0rc17"}
    assert not marker.exists()


@pytest.mark.parametrize("repository, tag, expected", [
    ("nvcr.io/nvidia/tensorrt-llm/release", "1.3.0rc17", {"name": "tensorrt_llm", "version": "1.3.0rc17"}),
    ("nvcr.io/nvidia/k8s/container-toolkit", "v1.17.0-rc.1-ubi8",
     {"name": "nvidia_container_toolkit", "version": "1.17.0-rc.1"}),
    ("nvcr.io/nvidia/tritonserver", "24.08-py3", {"name": "triton_inference_server", "version": "24.08"}),
    ("nvcr.io/nvidia/ai-dynamo/vllm-runtime", "0.4.0-amd64", {"name": "dynamo", "version": "0.4.0"}),
])
def test_image_tags_keep_pre_releases(repository, tag, expected):
    assert P.image_component(repository, tag) == expected


def test_lowest_version_orders_release_candidates_first():
    comps, _notes = P.build_components({"python_packages": [
        {"name": "tensorrt_llm", "version": "1.3.0", "interpreter": "/a"},
        {"name": "tensorrt_llm", "version": "1.3.0rc17", "interpreter": "/b"},
        {"name": "tensorrt_llm", "version": "1.3.0rc9", "interpreter": "/c"}]})
    assert comps == [{"name": "tensorrt_llm", "version": "1.3.0rc9"}]

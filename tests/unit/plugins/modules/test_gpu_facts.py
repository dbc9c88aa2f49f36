# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of the gpu_facts module.

The module file runs as a subprocess (as Ansible runs it on a target) with E(PATH) pointing at stub
commands that print the fixtures, and with the test-only root prefix for /proc, /sys, /dev and /usr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.aisec.gpu_host.plugins.modules import gpu_facts

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULE = os.path.join(ROOT, "plugins", "modules", "gpu_facts.py")
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "gpu")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


class FakeHost:
    """A fake target: stub commands in ``bin`` and a file system tree under ``root``."""

    def __init__(self, base):
        self.base = base
        self.bin = os.path.join(base, "bin")
        self.root = os.path.join(base, "root")
        self.log = os.path.join(base, "calls.log")
        os.makedirs(self.bin)
        os.makedirs(self.root)

    def command(self, name, stdout_file=None, rc=0, stderr=None, sleep=None):
        """A stub that logs its arguments, optionally sleeps, prints a file and exits with rc."""
        lines = ["#!/bin/sh", "printf '%%s\\n' \"%s $*\" >> '%s'" % (name, self.log)]
        if sleep:
            lines.append("/bin/sleep %s" % sleep)
        if stdout_file:
            lines.append("/bin/cat '%s'" % stdout_file)
        if stderr:
            lines.append("printf '%%s\\n' '%s' >&2" % stderr)
        lines.append("exit %d" % rc)
        path = os.path.join(self.bin, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(path, 0o755)
        return path

    def file(self, path, content="", mode=None, source=None):
        real = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(real), exist_ok=True)
        if source:
            shutil.copyfile(source, real)
        else:
            with open(real, "w", encoding="utf-8") as fh:
                fh.write(content)
        if mode is not None:
            os.chmod(real, mode)
        return real

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as fh:
            return fh.read().splitlines()

    def run(self, args=None, use_root=True, path=None, timeout=60):
        args_file = os.path.join(self.base, "args.json")
        with open(args_file, "w", encoding="utf-8") as fh:
            json.dump({"ANSIBLE_MODULE_ARGS": args or {}}, fh)
        env = {
            "PATH": self.bin if path is None else path,
            "PYTHONPATH": COLLECTIONS,
            "HOME": self.base,
            "LANG": "C.UTF-8",
        }
        if use_root:
            env[gpu_facts.TEST_ROOT_ENV] = self.root
        proc = subprocess.run(
            [sys.executable, MODULE, args_file], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        result = json.loads(proc.stdout)
        return result


@pytest.fixture
def host(tmp_path):
    return FakeHost(str(tmp_path))


def make_h100_ubuntu(host):
    """An Ubuntu 22.04 HGX H100 host with every probe answering."""
    host.command("nvidia-smi", fixture_path("nvidia-smi", "h100_sxm.xml"))
    host.command("nvidia-ctk", fixture_path("cmd", "nvidia_ctk_version.txt"))
    host.command("nv-fabricmanager", fixture_path("cmd", "nv_fabricmanager_version.txt"))
    host.command("dcgmi", fixture_path("cmd", "dcgmi_version.txt"))
    host.command("fwupdmgr", fixture_path("cmd", "fwupd_get_devices.json"))
    host.command("dpkg-query", fixture_path("cmd", "dpkg_query_ubuntu2204.txt"), rc=1,
                 stderr="dpkg-query: no packages found matching cuda-drivers*")
    host.command("docker", fixture_path("cmd", "docker_ps.txt"))
    host.command("python-stub", fixture_path("cmd", "python_probe.json"))
    host.file("/proc/driver/nvidia/version", source=fixture_path("proc", "version_proprietary_550.txt"))
    host.file("/proc/driver/nvidia/params", source=fixture_path("proc", "params_default_550.txt"))
    host.file("/proc/driver/nvidia/gpus/0000:18:00.0/information", source=fixture_path("proc", "gpu_information_h100.txt"))
    host.file("/dev/nvidia0", mode=0o666)
    host.file("/dev/nvidiactl", mode=0o666)
    host.file("/dev/nvidia-uvm", mode=0o666)
    host.file("/dev/nvidia10", mode=0o660)
    host.file("/dev/nvidia-caps/nvidia-cap2", mode=0o444)
    host.file("/dev/nvidia-caps/nvidia-cap1", mode=0o400)
    os.chmod(os.path.join(host.root, "dev", "nvidia-caps"), 0o755)
    host.file("/dev/null", mode=0o666)
    host.file("/usr/local/cuda-12.4/version.json", source=fixture_path("cuda", "version_12.4.json"))
    os.symlink("cuda-12.4", os.path.join(host.root, "usr", "local", "cuda"))


def test_full_ubuntu_h100_host(host):
    make_h100_ubuntu(host)
    stub_python = os.path.join(host.bin, "python-stub")
    result = host.run({"python_interpreters": [stub_python]})
    facts = result["ansible_facts"]["aisec_gpu"]

    assert result["changed"] is False
    assert "failed" not in result
    assert facts["errors"] == []
    for key, value in facts.items():
        assert result[key] == value, key

    assert facts["gpu_present"] is True
    assert facts["driver_loaded"] is True
    assert facts["gpu_count"] == 1
    assert facts["cuda_version"] == "12.4"
    assert facts["driver"] == {
        "version": "550.127.05",
        "branch": "R550",
        "kernel_module": "proprietary",
        "source": "nvidia-smi",
        "loaded_version": "550.127.05",
        "package": "nvidia-driver-550-server-open",
        "package_version": "550.127.05",
        "install_method": "package",
    }
    gpu = facts["gpus"][0]
    assert (gpu["name"], gpu["family"], gpu["source"]) == ("NVIDIA H100 80GB HBM3", "datacenter", "nvidia-smi")
    assert gpu["ecc_mode"] == {"current": "Enabled", "pending": "Enabled"}
    assert facts["kernel_module_params"]["DeviceFileMode"] == 438
    assert facts["kernel_module_params"]["RmProfilingAdminOnly"] == 1

    nodes = [(n["path"], n["type"], n["mode"]) for n in facts["device_nodes"]]
    assert nodes == [
        ("/dev/nvidia0", "file", "0666"),
        ("/dev/nvidia10", "file", "0660"),
        ("/dev/nvidia-caps", "dir", "0755"),
        ("/dev/nvidia-caps/nvidia-cap1", "file", "0400"),
        ("/dev/nvidia-caps/nvidia-cap2", "file", "0444"),
        ("/dev/nvidia-uvm", "file", "0666"),
        ("/dev/nvidiactl", "file", "0666"),
    ]
    node = facts["device_nodes"][-1]
    assert (node["uid"], node["gid"]) == (os.getuid(), os.getgid())

    assert facts["container_toolkit_version"] == "1.17.8"
    assert facts["fabric_manager_version"] == "550.127.05"
    assert facts["dcgm_version"] == "3.3.9"
    assert facts["cuda_toolkits"] == [{"path": "/usr/local/cuda-12.4", "version": "12.4.1"}]
    assert len(facts["firmware"]) == 5
    assert facts["package_manager"] == "dpkg"
    assert facts["packages"]["nvidia-container-toolkit"] == "1.17.8-1"
    assert [(p["name"], p["version"]) for p in facts["python_packages"]] == [
        ("vllm", "0.6.3.post1"), ("tensorrt_llm", "0.13.0"), ("nemo_toolkit", "2.0.0"), ("torch", "2.4.0+cu121"),
        ("ai-dynamo", "0.3.2")]
    assert all(p["interpreter"] == stub_python for p in facts["python_packages"])
    assert len(facts["containers"]) == 7
    assert facts["gathered"] == sorted(gpu_facts.SUBSETS)
    assert "raw" not in facts

    names = [c["name"] for c in facts["components"]]
    assert facts["components"][0] == {"name": "nvidia_driver", "version": "550.127.05", "family": "datacenter",
                                      "branch": "R550"}
    assert names == [
        "nvidia_driver", "nvidia_container_toolkit", "nvidia_fabric_manager", "nvidia_dcgm",
        "cuda_toolkit", "tensorrt", "tensorrt_llm", "nemo_framework", "dynamo", "triton_inference_server",
        "dcgm_exporter", "k8s_device_plugin"]  # one H100: no HGX board, so no nvidia_vbios

    calls = host.calls()
    assert sum(1 for c in calls if c.startswith("dpkg-query")) == 1  # one call, not a loop
    dpkg_call = next(c for c in calls if c.startswith("dpkg-query"))
    assert "nvidia-driver*" in dpkg_call and "intel-microcode" in dpkg_call and "libnvidia-*" in dpkg_call
    assert "nvidia-smi -q -x" in calls
    assert sum(1 for c in calls if c.startswith("docker ps")) == 1


def test_components_are_unique_and_known(host):
    make_h100_ubuntu(host)
    facts = host.run({"python_interpreters": [os.path.join(host.bin, "python-stub")]})["ansible_facts"]["aisec_gpu"]
    keys = [(c["name"], c["version"], c.get("family")) for c in facts["components"]]
    assert len(keys) == len(set(keys))
    from ansible_collections.aisec.gpu_host.plugins.module_utils.gpu_facts_parsers import COMPONENT_NAMES
    assert {c["name"] for c in facts["components"]} <= set(COMPONENT_NAMES)


def test_check_mode_reports_the_same(host):
    make_h100_ubuntu(host)
    args = {"gather": ["driver", "gpus", "params"]}
    normal = host.run(args)
    check = host.run(dict(args, _ansible_check_mode=True))
    assert check["changed"] is False
    assert check["ansible_facts"] == normal["ansible_facts"]


def test_eight_a100_mig_host_with_hardened_params(host):
    host.command("nvidia-smi", fixture_path("nvidia-smi", "a100_8gpu_mig.xml"))
    host.file("/proc/driver/nvidia/version", source=fixture_path("proc", "version_open_535_aarch64.txt"))
    host.file("/proc/driver/nvidia/params", source=fixture_path("proc", "params_hardened_550.txt"))
    facts = host.run({"gather": ["driver", "gpus", "params"]})["ansible_facts"]["aisec_gpu"]
    assert facts["gpu_count"] == 8
    assert facts["driver"]["kernel_module"] == "open"
    assert facts["driver"]["version"] == "535.183.01"
    assert facts["driver"]["install_method"] == "unknown"
    assert facts["kernel_module_params"]["DeviceFileMode"] == 432
    assert [g["mig_mode"]["current"] for g in facts["gpus"]] == ["Enabled"] * 8
    assert facts["components"] == [
        {"name": "nvidia_driver", "version": "535.183.01", "family": "datacenter", "branch": "R535"},
        {"name": "nvidia_vbios", "version": "92.00.45.00.06", "family": "Ampere HGX 8-GPU"},
    ]
    assert facts["errors"] == []


def test_nvidia_smi_failing_falls_back_to_proc(host):
    host.command("nvidia-smi", rc=9, stderr="",
                 stdout_file=host.file("/tmp/msg", "NVIDIA-SMI has failed because it couldn't communicate with the "
                                                   "NVIDIA driver. Make sure that the latest NVIDIA driver is installed "
                                                   "and running.\n"))
    host.file("/proc/driver/nvidia/version", source=fixture_path("proc", "version_open_560.txt"))
    host.file("/proc/driver/nvidia/gpus/0000:18:00.0/information", source=fixture_path("proc", "gpu_information_h100.txt"))
    facts = host.run({"gather": ["driver", "gpus"]})["ansible_facts"]["aisec_gpu"]
    assert facts["gpu_present"] is True
    gpu = facts["gpus"][0]
    assert (gpu["source"], gpu["name"], gpu["pci_bus_id"], gpu["vbios_version"]) == (
        "proc", "NVIDIA H100 80GB HBM3", "00000000:18:00.0", "96.00.99.00.01")
    assert gpu["family"] == "datacenter"  # from the model name
    assert facts["driver"]["version"] == "560.35.03"
    assert facts["driver"]["source"] == "proc"
    assert facts["driver"]["kernel_module"] == "open"
    assert facts["cuda_version"] is None
    assert len(facts["errors"]) == 1
    assert facts["errors"][0].startswith("nvidia-smi -q -x: exit 9: NVIDIA-SMI has failed")


def test_gpu_without_driver_found_in_sysfs(host):
    pci = "/sys/bus/pci/devices"
    for bdf, vendor, cls, device in [
        ("0000:00:02.0", "0x8086", "0x030000", "0x4680"),  # Intel iGPU
        ("0000:18:00.0", "0x10de", "0x030200", "0x2330"),  # H100 (3D controller)
        ("0000:18:00.1", "0x10de", "0x040300", "0x22ba"),  # NVIDIA HDMI audio
        ("0000:b1:00.0", "0x10de", "0x068000", "0x22a3"),  # NVSwitch
        ("0000:65:00.0", "0x10de", "0x030000", "0x2684"),  # GeForce (VGA)
    ]:
        host.file("%s/%s/vendor" % (pci, bdf), vendor + "\n")
        host.file("%s/%s/class" % (pci, bdf), cls + "\n")
        host.file("%s/%s/device" % (pci, bdf), device + "\n")
    facts = host.run()["ansible_facts"]["aisec_gpu"]
    assert facts["gpu_present"] is True
    assert facts["driver_loaded"] is False
    assert [(g["pci_bus_id"], g["pci_device_id"], g["source"]) for g in facts["gpus"]] == [
        ("00000000:18:00.0", "0x2330", "sysfs"), ("00000000:65:00.0", "0x2684", "sysfs")]
    assert facts["driver"]["version"] is None
    assert facts["components"] == []
    assert facts["errors"] == []


def test_host_without_gpu_or_tools(host):
    result = host.run()
    facts = result["ansible_facts"]["aisec_gpu"]
    assert "failed" not in result
    assert facts["gpu_present"] is False
    assert facts["gpu_count"] == 0
    assert facts["driver_loaded"] is False
    assert facts["errors"] == []
    assert facts["components"] == []
    assert facts["package_manager"] is None
    assert facts["device_nodes"] == []
    assert facts["python_packages"] == []  # the module's own interpreter has none of the packages


def test_rhel_package_fallbacks(host):
    host.command("rpm", fixture_path("cmd", "rpm_query_rhel9.txt"))
    facts = host.run({"gather": ["packages", "driver", "toolkit"]})["ansible_facts"]["aisec_gpu"]
    assert facts["package_manager"] == "rpm"
    assert facts["driver"] == {
        "version": "550.127.05",
        "branch": "R550",
        "kernel_module": None,
        "source": "package",
        "loaded_version": None,
        "package": "nvidia-driver",
        "package_version": "550.127.05",
        "install_method": "package",
    }
    assert facts["container_toolkit_version"] == "1.17.8"
    assert facts["fabric_manager_version"] == "550.127.05"
    assert facts["dcgm_version"] == "4.1.1"
    assert facts["gpu_present"] is False
    rpm_call = [c for c in host.calls() if c.startswith("rpm")]
    assert len(rpm_call) == 1 and rpm_call[0].startswith("rpm -qa --qf")
    assert "nvidia_driver" not in [c["name"] for c in facts["components"]]  # no GPU: family unknown
    assert facts["errors"] == ["nvidia_driver 550.127.05 left out of components: the driver family is unknown "
                               "(no GPU with a known product brand or name)"]


def test_container_cli_used_without_nvidia_ctk(host):
    host.command("nvidia-container-cli", fixture_path("cmd", "nvidia_container_cli_version.txt"))
    facts = host.run({"gather": ["toolkit"]})["ansible_facts"]["aisec_gpu"]
    assert facts["container_toolkit_version"] == "1.16.1"
    assert facts["components"] == [{"name": "nvidia_container_toolkit", "version": "1.16.1"}]


def test_runfile_install_detected(host):
    host.file("/proc/driver/nvidia/version", source=fixture_path("proc", "version_proprietary_550.txt"))
    host.file("/usr/bin/nvidia-uninstall", "#!/bin/sh\n")
    facts = host.run({"gather": ["driver", "packages"]})["ansible_facts"]["aisec_gpu"]
    assert facts["driver"]["install_method"] == "runfile"
    assert facts["driver"]["source"] == "proc"


def test_timeout_is_not_fatal(host):
    host.command("nvidia-smi", fixture_path("nvidia-smi", "h100_sxm.xml"), sleep=30)
    start = time.monotonic()
    facts = host.run({"gather": ["gpus"], "timeout": 1})["ansible_facts"]["aisec_gpu"]
    assert time.monotonic() - start < 15
    assert facts["errors"] == ["nvidia-smi -q -x: timed out after 1 s"]
    assert facts["gpu_present"] is False


def test_failing_probes_become_errors(host):
    host.command("docker", rc=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    host.command("fwupdmgr", host.file("/tmp/garbage", "not json\n"))
    host.command("dcgmi", host.file("/tmp/noversion", "usage: dcgmi\n"))
    not_exec = host.file("/tmp/python-not-exec", "", mode=0o644)
    result = host.run({"gather": ["containers", "firmware", "toolkit", "python"], "python_interpreters": [not_exec]})
    assert "failed" not in result
    errors = result["errors"]
    assert "docker ps: exit 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock." in errors
    assert any(e.startswith("fwupdmgr printed invalid JSON") for e in errors)
    assert "DCGM: no version in the output of dcgmi --version" in errors
    assert "python interpreter %s is not an executable file" % not_exec in errors
    assert len(errors) == 4


def test_gather_subset_runs_only_selected_probes(host):
    make_h100_ubuntu(host)
    facts = host.run({"gather": ["params", "devices"]})["ansible_facts"]["aisec_gpu"]
    assert facts["gathered"] == ["devices", "params"]
    assert host.calls() == []  # no command ran
    assert facts["kernel_module_params"]["DeviceFileMode"] == 438
    assert facts["driver_loaded"] is True
    assert facts["gpus"] == [] and facts["driver"]["version"] is None


def test_include_raw(host):
    make_h100_ubuntu(host)
    facts = host.run({"gather": ["gpus", "packages"], "include_raw": True})["ansible_facts"]["aisec_gpu"]
    assert sorted(facts["raw"]) == ["dpkg-query", "nvidia-smi"]
    assert facts["raw"]["nvidia-smi"].startswith('<?xml version="1.0" ?>')


def test_explicit_nvidia_smi_path(host):
    smi = host.command("my-smi", fixture_path("nvidia-smi", "geforce_rtx4090.xml"))
    facts = host.run({"gather": ["gpus"], "nvidia_smi_path": smi})["ansible_facts"]["aisec_gpu"]
    assert facts["gpus"][0]["family"] == "geforce"
    missing = os.path.join(host.base, "nope", "nvidia-smi")
    facts = host.run({"gather": ["gpus"], "nvidia_smi_path": missing})["ansible_facts"]["aisec_gpu"]
    assert facts["errors"] == ["nvidia_smi_path %s is not an executable file" % missing]


def test_no_devices_found_is_not_an_error(host):
    host.command("nvidia-smi", host.file("/tmp/none", "No devices were found\n"), rc=6)
    facts = host.run({"gather": ["gpus"]})["ansible_facts"]["aisec_gpu"]
    assert facts["errors"] == []
    assert facts["gpu_present"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        ({"timeout": 0}, "timeout must be between 1 and 3600"),
        ({"gather": ["gpus", "bogus"]}, "value of gather must be one or more of"),
        ({"gather": []}, "gather must name at least one probe"),
        ({"nvidia_smi_path": " "}, "nvidia_smi_path must not be empty"),
        ({"unknown_option": 1}, "Unsupported parameters"),
    ],
)
def test_invalid_arguments_fail_cleanly(host, args, message):
    result = host.run(args)
    assert result["failed"] is True
    assert message in result["msg"]


def test_this_machine(host):
    """On the real host (no test root): never fails; without an NVIDIA driver, no GPU is reported."""
    result = host.run({"gather": ["all"]}, use_root=False, path=os.environ.get("PATH", "/usr/bin:/bin"))
    assert "failed" not in result
    facts = result["ansible_facts"]["aisec_gpu"]
    if not os.path.exists("/proc/driver/nvidia/version"):
        assert facts["driver_loaded"] is False
        assert facts["driver"]["loaded_version"] is None
        assert all(g["source"] == "sysfs" for g in facts["gpus"])
    assert isinstance(facts["errors"], list)


# ---------------------------------------------------------------------------
# Command runner
# ---------------------------------------------------------------------------


def test_timeout_stops_the_whole_process_group(host):
    """A stub that leaves a background child holding stdout must not keep the module waiting."""
    path = os.path.join(host.bin, "nvidia-smi")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("#!/bin/sh\n/bin/sleep 30 &\n/bin/sleep 30\n")
    os.chmod(path, 0o755)
    start = time.monotonic()
    facts = host.run({"gather": ["gpus"], "timeout": 1})["ansible_facts"]["aisec_gpu"]
    assert time.monotonic() - start < 15
    assert facts["errors"] == ["nvidia-smi -q -x: timed out after 1 s"]


def test_output_cap(host, monkeypatch):
    """Output over the cap is refused with an error, not parsed."""
    big = host.file("/tmp/big.xml", "<nvidia_smi_log>" + " " * 2048 + "</nvidia_smi_log>")
    host.command("nvidia-smi", big)
    module_copy = os.path.join(host.base, "gpu_facts_small_cap.py")
    with open(MODULE, encoding="utf-8") as src, open(module_copy, "w", encoding="utf-8") as dst:
        dst.write(src.read().replace("MAX_OUTPUT_BYTES = 16 * 1024 * 1024", "MAX_OUTPUT_BYTES = 1024"))
    monkeypatch.setattr(sys.modules[__name__], "MODULE", module_copy)
    facts = host.run({"gather": ["gpus"]})["ansible_facts"]["aisec_gpu"]
    assert facts["errors"] == ["nvidia-smi -q -x: printed more than 1024 bytes"]


def test_missing_timeout_binary_is_reported(host, monkeypatch):
    """Without timeout(1) commands still run, and the missing limit is reported once."""
    host.command("nvidia-ctk", fixture_path("cmd", "nvidia_ctk_version.txt"))
    host.command("dcgmi", fixture_path("cmd", "dcgmi_version.txt"))
    module_copy = os.path.join(host.base, "gpu_facts_no_timeout.py")
    with open(MODULE, encoding="utf-8") as src, open(module_copy, "w", encoding="utf-8") as dst:
        dst.write(src.read().replace('get_bin_path("timeout", opt_dirs=["/usr/bin", "/bin"])',
                                     'get_bin_path("timeout-does-not-exist")'))
    monkeypatch.setattr(sys.modules[__name__], "MODULE", module_copy)
    facts = host.run({"gather": ["toolkit"]})["ansible_facts"]["aisec_gpu"]
    assert facts["errors"] == ["timeout(1) not found: commands run without a time limit"]
    assert (facts["container_toolkit_version"], facts["dcgm_version"]) == ("1.17.8", "3.3.9")


# ---------------------------------------------------------------------------
# Through Ansible
# ---------------------------------------------------------------------------


def test_ansible_adhoc_localhost(tmp_path):
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    if not os.path.exists(ansible):
        pytest.skip("ansible CLI not installed next to the test interpreter")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCAL_TEMP=str(tmp_path),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    proc = subprocess.run(
        [ansible, "localhost", "-m", "aisec.gpu_host.gpu_facts", "-a", "gather=driver,gpus,params,devices",
         "-e", "ansible_python_interpreter=%s" % sys.executable],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    facts = result["ansible_facts"]["aisec_gpu"]
    assert facts["gathered"] == ["devices", "driver", "gpus", "params"]
    assert result["changed"] is False
    assert isinstance(facts["gpu_present"], bool)


def test_python_interpreters_run_isolated_without_site(host):
    make_h100_ubuntu(host)
    stub = os.path.join(host.bin, "python-stub")
    host.run({"gather": ["python"], "python_interpreters": [stub]})
    call = next(c for c in host.calls() if c.startswith("python-stub"))
    assert call.startswith("python-stub -I -S -c ")  # no site module: no .pth file runs


def test_python_interpreters_in_writable_places_are_not_run(host):
    make_h100_ubuntu(host)
    shared = os.path.join(host.base, "shared")
    os.makedirs(shared)
    os.chmod(shared, 0o777)
    evil = os.path.join(shared, "python")
    shutil.copyfile(os.path.join(host.bin, "python-stub"), evil)
    os.chmod(evil, 0o755)
    writable = host.command("python-writable", fixture_path("cmd", "python_probe.json"))
    os.chmod(writable, 0o775)
    result = host.run({"gather": ["python"], "python_interpreters": [evil, writable]})
    facts = result["ansible_facts"]["aisec_gpu"]
    assert facts["python_packages"] == []
    errors = " ".join(facts["errors"])
    assert "python interpreter %s not run: %s is writable by group and others" % (evil, shared) in errors
    assert "python interpreter %s not run: %s is writable by its group" % (writable, writable) in errors
    assert not any(c.startswith(("python-stub", "python-writable")) for c in host.calls())


def test_image_tag_pre_release_is_kept(host):
    host.command("docker", host.file("/tmp/ps.txt", "1a2b3c4d5e6f\tnvcr.io/nvidia/tensorrt-llm/release:1.3.0rc17\ttrtllm\n"))
    facts = host.run({"gather": ["containers"]})["ansible_facts"]["aisec_gpu"]
    assert facts["components"] == [{"name": "tensorrt_llm", "version": "1.3.0rc17"}]

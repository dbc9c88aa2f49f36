#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Inventory of NVIDIA GPUs, driver, firmware and the AI serving stack
version_added: 0.1.0
description:
  - Read-only inventory of a Linux GPU inference host for control C(AISEC-BASE-02) (inventory of AI
    hardware and software) and the CSAF workflow of C(AISEC-PATCH-01).
  - Reports the GPUs (C(nvidia-smi -q -x)), the loaded driver (C(/proc/driver/nvidia/version)), the
    kernel module parameters (C(/proc/driver/nvidia/params)), the C(/dev/nvidia*) device nodes, the
    NVIDIA Container Toolkit, Fabric Manager, DCGM and CUDA toolkit versions, firmware known to
    C(fwupd), relevant Debian/RPM packages, Python inference packages, running container images, and
    a list of RV(components) that M(aisec.gpu_host.csaf_match) accepts as is.
  - Hosts without a GPU or without the NVIDIA driver are not an error; RV(gpu_present) is then
    V(false). A probe that fails (a command exits non-zero, times out or prints something unparsable)
    adds a message to RV(errors) and the module carries on; it never fails because of the host state.
  - When the driver cannot be queried, GPUs are still listed from C(/proc/driver/nvidia/gpus) or, without
    a loaded driver, from the PCI devices in sysfs (vendor C(0x10de), display class), so a host that still
    needs a driver is recognised as a GPU host.
  - Every external command runs without a shell, with C(LC_ALL=C), under C(timeout) (coreutils or
    busybox) with the time limit O(timeout), and its output is capped at 16 MiB. Missing commands are
    skipped silently.
  - The facts are returned as C(ansible_facts.aisec_gpu) and, identically, as top-level return values.
author:
  - aisec.gpu_host maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
options:
  gather:
    description:
      - Which probes to run. V(all) runs every probe.
      - V(driver) and V(gpus) share one C(nvidia-smi) call; with either, RV(gpus) and RV(cuda_version) come
        from it. RV(driver) is filled only with V(driver), the C(/proc) and sysfs fallback for RV(gpus) runs
        only with V(gpus).
      - V(driver) reads C(/proc/driver/nvidia/version); V(params) C(/proc/driver/nvidia/params);
        V(devices) lists C(/dev/nvidia*); V(toolkit) queries C(nvidia-ctk) (or C(nvidia-container-cli)),
        C(nv-fabricmanager), C(dcgmi) and C(/usr/local/cuda*/version.json); V(firmware) runs
        C(fwupdmgr get-devices --json); V(packages) runs one C(dpkg-query) or one C(rpm) call;
        V(python) runs each interpreter of O(python_interpreters) once; V(containers) runs one
        C(ps) call per container engine (C(docker), C(podman)).
      - Versions fall back to the package database (the driver, Container Toolkit, Fabric Manager,
        DCGM) only when V(packages) is gathered too.
    type: list
    elements: str
    choices: [all, driver, gpus, params, devices, toolkit, firmware, packages, python, containers]
    default: [all]
  nvidia_smi_path:
    description:
      - Name (looked up in E(PATH) and the sbin directories) or absolute path of C(nvidia-smi).
    type: str
    default: nvidia-smi
  timeout:
    description:
      - Time limit in seconds for each external command. A command that runs longer is killed and
        reported in RV(errors).
    type: int
    default: 20
  include_raw:
    description:
      - Also return the raw output of every command that ran, in RV(raw) (each capped at 1 MiB).
      - The C(nvidia-smi) XML contains GPU serial numbers; keep the result out of shared logs.
    type: bool
    default: false
  python_interpreters:
    description:
      - Python interpreters whose installed distributions (C(vllm), C(tritonclient), C(tensorrt),
        C(tensorrt_llm), C(nemo_toolkit), C(torch), C(ai-dynamo)) are read with C(importlib.metadata).
      - Each runs once, isolated and without the C(site) module (C(python -I -S)), so no C(.pth) file of a
        site-packages directory is executed, with the O(timeout); the distributions are found by reading their
        metadata files from the virtual environment's (or the interpreter's own) site-packages. Add the virtual
        environments your inference services use.
      - An interpreter runs only when its real file and every directory above it are owned by root (or the
        module's user) and not writable by group or others; a virtual environment the service account owns is
        read with its base interpreter (C(home) of its C(pyvenv.cfg)) when that one qualifies. Others are
        reported in RV(errors) and not run.
      - Defaults to the interpreter that runs this module.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    support: full
    details: The module only reads; it reports the same in check mode and never changes anything.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - Run with C(become=true) for complete results; as an unprivileged user C(docker ps),
    C(fwupdmgr) and some C(/proc) entries may be refused (reported in RV(errors)).
  - Raw C(nvidia-smi) output is not a stable interface; only the fields documented here are parsed,
    and unknown or C(N/A) values are returned as V(null).
  - O(python_interpreters) runs interpreters on the target with the module's privileges; only root-owned
    interpreters in root-owned directories that are not group or world writable are run (see there).
requirements:
  - Python 3.8 or later on the target.
seealso:
  - module: aisec.gpu_host.csaf_match
  - name: NVIDIA System Management Interface (nvidia-smi)
    description: The tool whose XML output (C(nvidia-smi -q -x)) is the primary source of GPU facts.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Gather the GPU inventory
  aisec.gpu_host.gpu_facts:

- name: Show the driver and the components to check against advisories
  ansible.builtin.debug:
    msg: "{{ ansible_facts.aisec_gpu.driver.version }} {{ ansible_facts.aisec_gpu.components }}"
  when: ansible_facts.aisec_gpu.gpu_present

- name: Only the driver and the kernel module parameters (fast)
  aisec.gpu_host.gpu_facts:
    gather: [driver, params]

- name: GPU device nodes must not be world accessible (AISEC-HARDEN-01)
  ansible.builtin.assert:
    that:
      - ansible_facts.aisec_gpu.kernel_module_params.DeviceFileMode == 432  # 0660
      - ansible_facts.aisec_gpu.kernel_module_params.RmProfilingAdminOnly == 1
      - >-
        ansible_facts.aisec_gpu.device_nodes
        | selectattr('path', 'match', '^/dev/nvidia([0-9]+|ctl)$')
        | rejectattr('mode', 'match', '^0[0-7][0-7]0$')
        | list | length == 0
  when: ansible_facts.aisec_gpu.driver_loaded

- name: Include the Python packages of the vLLM virtual environment
  aisec.gpu_host.gpu_facts:
    gather: [python, containers]
    python_interpreters:
      - /opt/vllm/venv/bin/python
  register: inference_stack

- name: Match the host against NVIDIA advisories on the controller
  aisec.gpu_host.csaf_match:
    documents: "{{ playbook_dir }}/csaf/nvidia"
    components: "{{ ansible_facts.aisec_gpu.components }}"
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    aisec_gpu:
      description: The same keys as the top-level return values below (except C(ansible_facts)).
      returned: always
      type: dict
gpu_present:
  description: Whether at least one NVIDIA GPU was found (by C(nvidia-smi), C(/proc) or sysfs).
  returned: always
  type: bool
  sample: true
driver_loaded:
  description: Whether the NVIDIA kernel module is loaded (C(/proc/driver/nvidia/version) is readable).
  returned: always
  type: bool
  sample: true
gpu_count:
  description: Number of entries in RV(gpus).
  returned: always
  type: int
  sample: 8
cuda_version:
  description: Highest CUDA version the driver supports, as printed by C(nvidia-smi); V(null) if unknown.
  returned: always
  type: str
  sample: "12.4"
driver:
  description: The NVIDIA driver. Keys are V(null) when unknown.
  returned: always
  type: dict
  contains:
    version:
      description: Driver version; from C(nvidia-smi), else the loaded module, else the driver package.
      type: str
      sample: 550.127.05
    branch:
      description: Driver branch (major version with C(R) prefix).
      type: str
      sample: R550
    kernel_module:
      description: V(open) for the NVIDIA open GPU kernel modules, V(proprietary) otherwise; V(null) when not loaded.
      type: str
      sample: open
    source:
      description: Where RV(driver.version) came from.
      type: str
      choices: [nvidia-smi, proc, package]
      sample: nvidia-smi
    loaded_version:
      description: Version of the loaded kernel module (C(/proc/driver/nvidia/version)); differs from
        RV(driver.package_version) after an upgrade until the next reboot.
      type: str
      sample: 550.127.05
    package:
      description: Name of the package that installed the driver, if any.
      type: str
      sample: nvidia-driver-550-server-open
    package_version:
      description: Upstream version of RV(driver.package) (epoch and revision removed).
      type: str
      sample: 550.127.05
    install_method:
      description: How the driver was installed; V(container) means a driver container (GPU Operator,
        C(/run/nvidia/driver)).
      type: str
      choices: [package, runfile, container, unknown]
      sample: package
gpus:
  description: One entry per GPU, in C(nvidia-smi) index order. Values not known are V(null).
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: GPU index.
      type: int
      sample: 0
    name:
      description: Product name.
      type: str
      sample: NVIDIA H100 80GB HBM3
    brand:
      description: Product brand (C(<product_brand>)).
      type: str
      sample: NVIDIA
    architecture:
      description: Product architecture.
      type: str
      sample: Hopper
    family:
      description: Driver family used to pick advisory rows.
      type: str
      choices: [datacenter, geforce, rtx, vgpu_host, vgpu_guest]
      sample: datacenter
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-6b2f0d4e-8e5a-2c1b-9f3d-7a1e4c2b8d90
    serial:
      description: Board serial number.
      type: str
      sample: "1652223012345"
    minor_number:
      description: Minor number of the C(/dev/nvidiaN) node.
      type: int
      sample: 0
    pci_bus_id:
      description: PCI address in the C(nvidia-smi) form.
      type: str
      sample: 00000000:18:00.0
    pci_device_id:
      description: PCI device id.
      type: str
      sample: "0x2330"
    board_part_number:
      description: Board part number.
      type: str
      sample: 692-2G520-0200-000
    vbios_version:
      description: VBIOS version.
      type: str
      sample: 96.00.99.00.01
    gsp_firmware_version:
      description: GSP firmware version.
      type: str
      sample: 550.127.05
    inforom:
      description: InfoROM versions (C(image) pins the flashed image).
      type: dict
      sample: {image: G520.0200.00.05, oem: "2.1", ecc: "7.16", pwr: null}
    ecc_mode:
      description: ECC mode, current and pending.
      type: dict
      sample: {current: Enabled, pending: Enabled}
    mig_mode:
      description: MIG mode, current and pending.
      type: dict
      sample: {current: Disabled, pending: Disabled}
    mig_devices:
      description: Number of MIG devices.
      type: int
      sample: 0
    persistence_mode:
      description: Persistence mode.
      type: str
      sample: Enabled
    compute_mode:
      description: Compute mode.
      type: str
      sample: Default
    memory_total_mib:
      description: Frame buffer size in MiB.
      type: int
      sample: 81559
    virtualization_mode:
      description: GPU virtualization mode (C(None), C(Pass-Through), C(VGPU), C(Host VGPU)).
      type: str
      sample: None
    host_vgpu_mode:
      description: vGPU host mode (C(SR-IOV), C(Non SR-IOV)) on vGPU hosts.
      type: str
      sample: null
    source:
      description: Where the entry came from; C(proc) and C(sysfs) entries lack most details.
      type: str
      choices: [nvidia-smi, proc, sysfs]
      sample: nvidia-smi
kernel_module_params:
  description: C(/proc/driver/nvidia/params) as a dict; decimal values are integers (C(DeviceFileMode) 438 = 0666,
    432 = 0660). Empty when the module is not loaded.
  returned: always
  type: dict
  sample: {DeviceFileUID: 0, DeviceFileGID: 0, DeviceFileMode: 438, RmProfilingAdminOnly: 1, ExcludedGpus: ""}
device_nodes:
  description: The C(/dev/nvidia*) entries and the contents of C(/dev/nvidia-caps*) directories (not followed through links).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path.
      type: str
      sample: /dev/nvidia0
    type:
      description: File type.
      type: str
      choices: [char, block, dir, link, file, other]
      sample: char
    mode:
      description: Permission bits as a four digit octal string.
      type: str
      sample: "0660"
    uid:
      description: Owner user id.
      type: int
      sample: 0
    gid:
      description: Owner group id.
      type: int
      sample: 44
    owner:
      description: Owner user name, V(null) if unknown.
      type: str
      sample: root
    group:
      description: Owner group name, V(null) if unknown.
      type: str
      sample: video
container_toolkit_version:
  description: NVIDIA Container Toolkit version (C(nvidia-ctk --version), else C(nvidia-container-cli --version),
    else the package database).
  returned: always
  type: str
  sample: 1.17.8
fabric_manager_version:
  description: NVIDIA Fabric Manager version (C(nv-fabricmanager --version), else the package database).
  returned: always
  type: str
  sample: 550.127.05
dcgm_version:
  description: NVIDIA DCGM version (C(dcgmi --version), else the package database).
  returned: always
  type: str
  sample: 3.3.9
cuda_toolkits:
  description: CUDA toolkits found as C(/usr/local/cuda*/version.json) (or C(version.txt)).
  returned: always
  type: list
  elements: dict
  sample: [{path: /usr/local/cuda-12.4, version: 12.4.1}]
firmware:
  description: Devices reported by C(fwupdmgr get-devices --json); empty without C(fwupdmgr).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Device name.
      type: str
      sample: HGX_FW_BMC_0
    device_id:
      description: fwupd device id.
      type: str
      sample: 0c5b2e8a3f1d4a6b9e7c2d1f0a3b5c7e9d1f2a4b
    version:
      description: Firmware version.
      type: str
      sample: HGX-22.10-1-rc80
    vendor:
      description: Vendor.
      type: str
      sample: NVIDIA
    guids:
      description: Device GUIDs.
      type: list
      elements: str
      sample: [7b3c1f0e-9d2a-5c4b-8e6f-1a2b3c4d5e6f]
    plugin:
      description: fwupd plugin.
      type: str
      sample: redfish
    flags:
      description: fwupd flags.
      type: list
      elements: str
      sample: [internal, updatable, registered]
    version_format:
      description: fwupd version format.
      type: str
      sample: plain
    summary:
      description: fwupd summary.
      type: str
      sample: Redfish device
packages:
  description: Installed packages matching the driver, CUDA, Container Toolkit, DCGM, Fabric Manager, TensorRT
    and CPU microcode patterns, with their full package versions (one entry per package name; Multi-Arch
    copies of a library have the same version).
  returned: always
  type: dict
  sample: {nvidia-driver-550-server-open: 550.127.05-0ubuntu0.22.04.1, nvidia-container-toolkit: 1.17.8-1}
package_manager:
  description: The package database that was queried.
  returned: always
  type: str
  choices: [dpkg, rpm]
  sample: dpkg
python_packages:
  description: Inference-related Python distributions found per interpreter.
  returned: always
  type: list
  elements: dict
  sample: [{name: vllm, version: 0.6.3.post1, interpreter: /opt/vllm/venv/bin/python}]
containers:
  description: Running containers (C(docker ps), C(podman ps)).
  returned: always
  type: list
  elements: dict
  contains:
    runtime:
      description: Container engine.
      type: str
      sample: docker
    id:
      description: Container id.
      type: str
      sample: 3f1c2d4e5a6b
    name:
      description: Container name.
      type: str
      sample: triton
    image:
      description: Image reference as the engine reports it.
      type: str
      sample: nvcr.io/nvidia/tritonserver:24.08-py3
    repository:
      description: Image repository.
      type: str
      sample: nvcr.io/nvidia/tritonserver
    tag:
      description: Image tag, V(null) if none was given.
      type: str
      sample: 24.08-py3
    digest:
      description: Image digest if the image was referenced by digest.
      type: str
      sample: null
components:
  description:
    - Input for M(aisec.gpu_host.csaf_match), following its rules - versions are dot-separated integers,
      one entry per name (and family), C(family) and C(branch) only where that module expects them.
    - C(nvidia_driver) carries the driver C(family) of the GPUs (one entry per family on mixed hosts) and
      the C(branch); it is left out (with a note in RV(errors)) when no GPU identifies the family.
    - C(nvidia_vbios) is listed only for SXM baseboards, with the board label NVIDIA advisories use as
      C(family) (for example C(Hopper HGX 8-GPU)).
    - Also C(nvidia_container_toolkit), C(nvidia_gpu_operator), C(nvidia_fabric_manager), C(nvidia_dcgm),
      C(cuda_toolkit), C(triton_inference_server) (release of the C(tritonserver) image), C(tensorrt),
      C(tensorrt_llm), C(nemo_framework) (Python C(nemo_toolkit)), C(dynamo), C(dcgm_exporter),
      C(k8s_device_plugin) and C(mig_manager), from commands, packages, Python distributions and images.
    - When a component is installed in several versions, the lowest is listed; the full picture is in
      RV(cuda_toolkits), RV(python_packages) and RV(containers). Pre-release versions keep their suffix
      (C(1.3.0rc17) from an image tag or a Python distribution), which csaf_match orders before the release.
      C(firmware) is not derived - fwupd names devices differently from advisories; review RV(firmware)
      instead.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: nvidia_driver, version: 550.127.05, family: datacenter, branch: R550}
    - {name: nvidia_vbios, version: 96.00.99.00.01, family: Hopper HGX 8-GPU}
    - {name: nvidia_container_toolkit, version: 1.17.8}
errors:
  description: Non-fatal probe errors, and notes on detected versions left out of RV(components), one message each.
  returned: always
  type: list
  elements: str
  sample: ["docker ps: exit 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock."]
gathered:
  description: The probes that ran (O(gather) with V(all) expanded).
  returned: always
  type: list
  elements: str
  sample: [containers, devices, driver, firmware, gpus, packages, params, python, toolkit]
raw:
  description: Raw output of each command that ran, keyed by probe, each capped at 1 MiB.
  returned: when O(include_raw=true)
  type: dict
  sample: {nvidia-smi: "<?xml version=\"1.0\" ?>..."}
"""

import glob
import os
import stat
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aisec.gpu_host.plugins.module_utils.gpu_facts_parsers import (
    PACKAGE_PATTERNS,
    PYTHON_PACKAGES,
    PYTHON_PROBE_SCRIPT,
    ParseError,
    build_components,
    driver_branch,
    driver_family,
    driver_package,
    empty_gpu,
    format_mode,
    natural_key,
    normalize_pci_bus_id,
    parse_container_ps,
    parse_cuda_version_file,
    parse_dpkg_query,
    parse_fwupd_devices,
    parse_nvidia_smi_xml,
    parse_proc_driver_version,
    parse_proc_gpu_information,
    parse_proc_params,
    parse_python_probe,
    parse_rpm_query,
    parse_pyvenv_home,
    parse_tool_version,
    interpreter_trust_problem,
    upstream_version,
    venv_prefix,
)

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - not on Linux
    grp = pwd = None

SUBSETS = ("driver", "gpus", "params", "devices", "toolkit", "firmware", "packages", "python", "containers")

#: Largest stdout accepted from one command.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
#: Seconds between SIGTERM and SIGKILL for a command that ran past the timeout.
KILL_AFTER = 5
#: Exit codes of timeout(1) when it had to stop the command.
TIMEOUT_RCS = (124, 137)
#: Largest file read from /proc, /sys or a CUDA installation.
MAX_FILE_BYTES = 1024 * 1024
#: Cap of each entry in ``raw``.
RAW_LIMIT = 1024 * 1024

#: Only for the unit tests: prefix of /proc, /sys, /dev, /run and /usr paths read by the probes.
TEST_ROOT_ENV = "AISEC_GPU_FACTS_TEST_ROOT"

_FM_PACKAGE_PREFIXES = ("nvidia-fabricmanager", "nvidia-fabric-manager", "cuda-drivers-fabricmanager")
_CTK_PACKAGES = ("nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools")
_DCGM_PACKAGES = ("datacenter-gpu-manager", "datacenter-gpu-manager-4-core", "datacenter-gpu-manager-core")


def _decode(data):
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data or ""


def _first_line(text, limit=300):
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


class Prober:
    """Runs commands and reads files for the probes; collects errors and raw output."""

    def __init__(self, module, timeout, include_raw, root):
        self.module = module
        self.timeout = timeout
        self.include_raw = include_raw
        self.root = root
        self.errors = []
        self.raw = {}
        self.env = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}
        self._timeout_cmd = None

    def path(self, path):
        """Host path -> path to read (prefixed with the test root, if any)."""
        return self.root + path if self.root else path

    def unroot(self, path):
        if self.root and path.startswith(self.root):
            return path[len(self.root):] or "/"
        return path

    def error(self, message):
        self.errors.append(message)

    def which(self, name):
        return self.module.get_bin_path(name)

    def read(self, path):
        """Text of a host file; None when it is missing (silently) or unreadable (reported)."""
        real = self.path(path)
        try:
            with open(real, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self.error("%s: %s" % (path, exc.strerror or exc))
            return None
        if len(data) > MAX_FILE_BYTES:
            self.error("%s: larger than %d bytes, ignored" % (path, MAX_FILE_BYTES))
            return None
        return _decode(data)

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def _timeout_prefix(self):
        """``timeout -k 5 N`` (coreutils/busybox), looked up once; [] when the host lacks it."""
        if self._timeout_cmd is None:
            binary = self.module.get_bin_path("timeout", opt_dirs=["/usr/bin", "/bin"])
            if binary:
                self._timeout_cmd = [binary, "-k", str(KILL_AFTER), str(self.timeout)]
            else:
                self._timeout_cmd = []
                self.error("timeout(1) not found: commands run without a time limit")
        return self._timeout_cmd

    def run_raw(self, label, argv, raw_key=None):
        """(rc, stdout, stderr) of argv, or None after recording why it could not complete.

        The command runs without a shell under timeout(1), which stops it (and its process
        group) after ``timeout`` seconds; stdout larger than MAX_OUTPUT_BYTES is refused.
        """
        prefix = self._timeout_prefix()
        try:
            rc, out, err = self.module.run_command(
                prefix + list(argv),
                environ_update=self.env,
                expand_user_and_vars=False,
                errors="replace",
                handle_exceptions=False,
            )
        except OSError as exc:
            self.error("%s: cannot execute: %s" % (label, exc.strerror or exc))
            return None
        if prefix and rc in TIMEOUT_RCS:
            self.error("%s: timed out after %s s" % (label, self.timeout))
            return None
        if len(out) > MAX_OUTPUT_BYTES:
            self.error("%s: printed more than %d bytes" % (label, MAX_OUTPUT_BYTES))
            return None
        if self.include_raw:
            self.raw[raw_key or label] = out[:RAW_LIMIT]
        return rc, out, err

    def run(self, label, argv, ok_rcs=(0,), raw_key=None):
        """stdout of argv, or None after recording an error (including an exit code not in ok_rcs)."""
        result = self.run_raw(label, argv, raw_key)
        if result is None:
            return None
        rc, out, err = result
        if rc not in ok_rcs:
            detail = _first_line(err) or _first_line(out)
            self.error("%s: exit %s%s" % (label, rc, (": " + detail) if detail else ""))
            return None
        return out


def empty_facts():
    return {
        "gpu_present": False,
        "driver_loaded": False,
        "gpu_count": 0,
        "cuda_version": None,
        "driver": {
            "version": None,
            "branch": None,
            "kernel_module": None,
            "source": None,
            "loaded_version": None,
            "package": None,
            "package_version": None,
            "install_method": None,
        },
        "gpus": [],
        "kernel_module_params": {},
        "device_nodes": [],
        "container_toolkit_version": None,
        "fabric_manager_version": None,
        "dcgm_version": None,
        "cuda_toolkits": [],
        "firmware": [],
        "packages": {},
        "package_manager": None,
        "python_packages": [],
        "containers": [],
        "components": [],
        "errors": [],
        "gathered": [],
    }


# ---------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------


def probe_packages(p, facts):
    dpkg = p.which("dpkg-query")
    if dpkg:
        out = p.run(
            "dpkg-query",
            [dpkg, "-W", "-f", r"${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"] + list(PACKAGE_PATTERNS),
            ok_rcs=(0, 1),  # 1: some pattern matched no package
        )
        facts["package_manager"] = "dpkg"
        if out is not None:
            facts["packages"] = parse_dpkg_query(out)
        return
    rpm = p.which("rpm")
    if rpm:
        out = p.run(
            "rpm -qa",
            [rpm, "-qa", "--qf", r"%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n"] + list(PACKAGE_PATTERNS),
        )
        facts["package_manager"] = "rpm"
        if out is not None:
            facts["packages"] = parse_rpm_query(out)


def probe_nvidia_smi(p, nvidia_smi_path):
    """Parsed ``nvidia-smi -q -x`` output, or None when unavailable or failing."""
    if "/" in nvidia_smi_path:
        binary = nvidia_smi_path if os.access(nvidia_smi_path, os.X_OK) and os.path.isfile(nvidia_smi_path) else None
        if binary is None:
            p.error("nvidia_smi_path %s is not an executable file" % nvidia_smi_path)
            return None
    else:
        binary = p.which(nvidia_smi_path)
        if binary is None:
            return None
    result = p.run_raw("nvidia-smi -q -x", [binary, "-q", "-x"], raw_key="nvidia-smi")
    if result is None:
        return None
    rc, out, err = result
    if rc == 6:  # "No devices were found"
        return {"driver_version": None, "cuda_version": None, "gpus": []}
    if rc != 0:
        detail = _first_line(out) or _first_line(err)
        p.error("nvidia-smi -q -x: exit %s%s" % (rc, (": " + detail) if detail else ""))
        return None
    try:
        return parse_nvidia_smi_xml(out)
    except ParseError as exc:
        p.error("nvidia-smi -q -x: %s" % exc)
        return None


def probe_driver(p, facts, smi):
    driver = facts["driver"]
    loaded = None
    text = p.read("/proc/driver/nvidia/version")
    if text is not None:
        facts["driver_loaded"] = True
        try:
            loaded = parse_proc_driver_version(text)
        except ParseError as exc:
            p.error(str(exc))
    if loaded:
        driver["loaded_version"] = loaded["version"]
        driver["kernel_module"] = loaded["kernel_module"]

    pkg_name, pkg_version = driver_package(facts["packages"])
    if pkg_name:
        driver["package"] = pkg_name
        driver["package_version"] = upstream_version(pkg_version)

    if smi and smi.get("driver_version"):
        driver["version"], driver["source"] = smi["driver_version"], "nvidia-smi"
    elif loaded:
        driver["version"], driver["source"] = loaded["version"], "proc"
    elif driver["package_version"]:
        driver["version"], driver["source"] = driver["package_version"], "package"
    driver["branch"] = driver_branch(driver["version"])

    if driver["version"]:
        if pkg_name:
            driver["install_method"] = "package"
        elif p.exists("/run/nvidia/driver/usr/bin/nvidia-smi") or p.exists("/run/nvidia/validations/driver-ready"):
            driver["install_method"] = "container"
        elif p.exists("/usr/bin/nvidia-uninstall") or p.exists("/var/log/nvidia-installer.log"):
            driver["install_method"] = "runfile"
        else:
            driver["install_method"] = "unknown"


def _gpus_from_proc(p):
    gpus = []
    base = p.path("/proc/driver/nvidia/gpus")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return gpus
    for entry in entries:
        text = p.read("/proc/driver/nvidia/gpus/%s/information" % entry)
        if text is None:
            continue
        info = parse_proc_gpu_information(text)
        gpu = empty_gpu(len(gpus), "proc")
        for key in ("name", "uuid", "vbios_version", "minor_number"):
            gpu[key] = info.get(key)
        gpu["pci_bus_id"] = info.get("pci_bus_id") or normalize_pci_bus_id(entry) or entry
        gpu["family"] = driver_family(None, gpu["name"])
        gpus.append(gpu)
    return gpus


def _gpus_from_sysfs(p):
    gpus = []
    base = p.path("/sys/bus/pci/devices")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return gpus
    for entry in entries:
        vendor = _read_small(os.path.join(base, entry, "vendor"))
        if vendor is None or vendor.strip().lower() != "0x10de":
            continue
        pci_class = (_read_small(os.path.join(base, entry, "class")) or "").strip().lower()
        # 0x0300xx VGA controller, 0x0302xx 3D controller; NVSwitch (0x0680xx) and audio are not GPUs.
        if not pci_class.startswith(("0x0300", "0x0302")):
            continue
        gpu = empty_gpu(len(gpus), "sysfs")
        gpu["pci_bus_id"] = normalize_pci_bus_id(entry) or entry
        device = (_read_small(os.path.join(base, entry, "device")) or "").strip().lower()
        gpu["pci_device_id"] = device or None
        gpus.append(gpu)
    return gpus


def _read_small(path):
    try:
        with open(path, "rb") as fh:
            return _decode(fh.read(4096))
    except OSError:
        return None


def probe_params(p, facts):
    text = p.read("/proc/driver/nvidia/params")
    if text is not None:
        facts["kernel_module_params"] = parse_proc_params(text)


def _node(p, real_path):
    try:
        st = os.lstat(real_path)
    except OSError as exc:
        p.error("%s: %s" % (p.unroot(real_path), exc.strerror or exc))
        return None
    mode = st.st_mode
    if stat.S_ISCHR(mode):
        kind = "char"
    elif stat.S_ISBLK(mode):
        kind = "block"
    elif stat.S_ISDIR(mode):
        kind = "dir"
    elif stat.S_ISLNK(mode):
        kind = "link"
    elif stat.S_ISREG(mode):
        kind = "file"
    else:
        kind = "other"
    return {
        "path": p.unroot(real_path),
        "type": kind,
        "mode": format_mode(mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": _user_name(st.st_uid),
        "group": _group_name(st.st_gid),
    }


def _user_name(uid):
    if pwd is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group_name(gid):
    if grp is None:
        return None
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def probe_devices(p, facts):
    dev = p.path("/dev")
    try:
        names = sorted((n for n in os.listdir(dev) if n.startswith("nvidia")), key=natural_key)
    except FileNotFoundError:
        return
    except OSError as exc:
        p.error("/dev: %s" % (exc.strerror or exc))
        return
    nodes = []
    for name in names:
        real = os.path.join(dev, name)
        node = _node(p, real)
        if node is None:
            continue
        nodes.append(node)
        if node["type"] == "dir" and name.startswith("nvidia-caps"):
            try:
                children = sorted(os.listdir(real), key=natural_key)
            except OSError as exc:
                p.error("%s: %s" % (node["path"], exc.strerror or exc))
                continue
            for child in children:
                child_node = _node(p, os.path.join(real, child))
                if child_node is not None:
                    nodes.append(child_node)
    facts["device_nodes"] = nodes


def _package_version(packages, names=None, prefixes=None):
    for name in sorted(packages):
        base = name.split(":", 1)[0]
        if (names and base in names) or (prefixes and base.startswith(prefixes)):
            return upstream_version(packages[name])
    return None


def _tool_version(p, label, commands):
    for binary_name, args in commands:
        binary = p.which(binary_name)
        if binary is None:
            continue
        out = p.run("%s %s" % (binary_name, " ".join(args)), [binary] + list(args), raw_key=binary_name)
        if out is None:
            continue
        version = parse_tool_version(out)
        if version:
            return version
        p.error("%s: no version in the output of %s %s" % (label, binary_name, " ".join(args)))
    return None


def probe_toolkit(p, facts):
    packages = facts["packages"]
    facts["container_toolkit_version"] = _tool_version(
        p, "NVIDIA Container Toolkit", [("nvidia-ctk", ["--version"]), ("nvidia-container-cli", ["--version"])]
    ) or _package_version(packages, names=_CTK_PACKAGES)
    facts["fabric_manager_version"] = _tool_version(
        p, "Fabric Manager", [("nv-fabricmanager", ["--version"])]
    ) or _package_version(packages, prefixes=_FM_PACKAGE_PREFIXES)
    facts["dcgm_version"] = _tool_version(p, "DCGM", [("dcgmi", ["--version"])]) or _package_version(
        packages, names=_DCGM_PACKAGES
    )

    toolkits = []
    seen = set()
    candidates = sorted(glob.glob(p.path("/usr/local/cuda*/version.json")) + glob.glob(p.path("/usr/local/cuda*/version.txt")))
    for candidate in candidates:
        directory = os.path.dirname(candidate)
        real = os.path.realpath(directory)
        if real in seen:
            continue
        text = p.read(p.unroot(candidate))
        version = parse_cuda_version_file(text) if text is not None else None
        if version:
            seen.add(real)
            toolkits.append({"path": p.unroot(real), "version": version})
    facts["cuda_toolkits"] = toolkits


def probe_firmware(p, facts):
    fwupdmgr = p.which("fwupdmgr")
    if fwupdmgr is None:
        return
    out = p.run("fwupdmgr get-devices --json", [fwupdmgr, "get-devices", "--json"], ok_rcs=(0, 2), raw_key="fwupdmgr")
    if out is None or not out.strip():
        return
    try:
        facts["firmware"] = parse_fwupd_devices(out)
    except ParseError as exc:
        p.error(str(exc))


def trusted_interpreter(interpreter, stop=None):
    """(real path of a root-owned interpreter to run, virtual environment prefix or None, problem or None).

    The interpreter is run by its real path. A virtual environment's ``bin/python`` usually links to
    the base interpreter; when the venv itself may be written by the service account, its
    ``pyvenv.cfg`` ``home`` names the base interpreter to try instead. Only metadata files are read
    from the venv (see PYTHON_PROBE_SCRIPT).
    """
    trusted = {0, os.geteuid()}
    prefix = venv_prefix(interpreter, os.path.isfile)
    candidates = [os.path.realpath(interpreter)]
    if prefix:
        try:
            with open(os.path.join(prefix, "pyvenv.cfg"), "r", encoding="utf-8", errors="replace") as fh:
                home = parse_pyvenv_home(fh.read(65536))
        except OSError:
            home = None
        if home:
            for name in (os.path.basename(interpreter), "python3", "python"):
                candidates.append(os.path.realpath(os.path.join(home, name)))
    problem = None
    for candidate in candidates:
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        reason = interpreter_trust_problem(candidate, os.lstat, trusted, stop=stop)
        if reason is None:
            return candidate, prefix, None
        problem = problem or reason
    return None, prefix, problem or "no executable interpreter found"


def probe_python(p, facts, interpreters):
    results = []
    # Under the test root prefix only the fake host's own directories are checked.
    stop = os.path.dirname(p.root.rstrip("/")) if p.root else None
    for interpreter in interpreters:
        if not (os.path.isfile(interpreter) and os.access(interpreter, os.X_OK)):
            p.error("python interpreter %s is not an executable file" % interpreter)
            continue
        real, prefix, problem = trusted_interpreter(interpreter, stop)
        if problem is not None:
            p.error("python interpreter %s not run: %s (it would run as this module's user; list interpreters that "
                    "root owns, in directories only root can write)" % (interpreter, problem))
            continue
        label = "%s importlib.metadata" % interpreter
        out = p.run(label, [real, "-I", "-S", "-c", PYTHON_PROBE_SCRIPT, prefix or ""] + list(PYTHON_PACKAGES),
                    raw_key="python:" + interpreter)
        if out is None:
            continue
        try:
            _version, packages, error = parse_python_probe(out)
        except ParseError as exc:
            p.error("%s: %s" % (label, exc))
            continue
        if error:
            p.error("%s: %s" % (label, error))
        for name in PYTHON_PACKAGES:
            if name in packages:
                results.append({"name": name, "version": packages[name], "interpreter": interpreter})
    facts["python_packages"] = results


def probe_containers(p, facts):
    containers = []
    seen = set()
    for runtime in ("docker", "podman"):
        binary = p.which(runtime)
        if binary is None:
            continue
        out = p.run("%s ps" % runtime, [binary, "ps", "--format", "{{.ID}}\t{{.Image}}\t{{.Names}}"], raw_key=runtime)
        if out is None:
            continue
        for container in parse_container_ps(out, runtime):
            key = (container["id"][:12], container["image"])
            if key in seen:  # podman-docker: both commands list the same containers
                continue
            seen.add(key)
            containers.append(container)
    facts["containers"] = containers


def gather_facts(module, params, root=None):
    p = Prober(module, params["timeout"], params["include_raw"], root)
    wanted = set(SUBSETS) if "all" in params["gather"] else set(params["gather"])
    facts = empty_facts()
    facts["gathered"] = sorted(wanted)

    if "packages" in wanted:
        probe_packages(p, facts)

    smi = None
    if wanted & {"driver", "gpus"}:
        smi = probe_nvidia_smi(p, params["nvidia_smi_path"])
        if smi is not None:
            facts["gpus"] = smi["gpus"]
            facts["cuda_version"] = smi.get("cuda_version")
    if "driver" in wanted:
        probe_driver(p, facts, smi)
    if "gpus" in wanted and smi is None:
        facts["gpus"] = _gpus_from_proc(p) or _gpus_from_sysfs(p)
    if "params" in wanted:
        probe_params(p, facts)
    if "devices" in wanted:
        probe_devices(p, facts)
    if "toolkit" in wanted:
        probe_toolkit(p, facts)
    if "firmware" in wanted:
        probe_firmware(p, facts)
    if "python" in wanted:
        probe_python(p, facts, params["python_interpreters"] or [sys.executable])
    if "containers" in wanted:
        probe_containers(p, facts)

    if not facts["driver_loaded"] and "driver" not in wanted:
        facts["driver_loaded"] = p.exists("/proc/driver/nvidia/version")
    facts["gpu_count"] = len(facts["gpus"])
    facts["gpu_present"] = facts["gpu_count"] > 0
    facts["components"], notes = build_components(facts)
    facts["errors"] = p.errors + notes
    if params["include_raw"]:
        facts["raw"] = p.raw
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather=dict(type="list", elements="str", default=["all"], choices=["all"] + list(SUBSETS)),
            nvidia_smi_path=dict(type="str", default="nvidia-smi"),
            timeout=dict(type="int", default=20),
            include_raw=dict(type="bool", default=False),
            python_interpreters=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1 or params["timeout"] > 3600:
        module.fail_json(msg="timeout must be between 1 and 3600 seconds, got %s" % params["timeout"])
    if not params["gather"]:
        module.fail_json(msg="gather must name at least one probe (or 'all')")
    if not (params["nvidia_smi_path"] or "").strip():
        module.fail_json(msg="nvidia_smi_path must not be empty")

    root = os.environ.get(TEST_ROOT_ENV) or None
    facts = gather_facts(module, params, root)
    module.exit_json(changed=False, ansible_facts={"aisec_gpu": facts}, **facts)


if __name__ == "__main__":
    main()

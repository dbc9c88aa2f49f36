# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The component vocabulary shared by ``gpu_facts`` (target side) and ``csaf_match`` (controller side).

Standard library only and Python 3.8 syntax: ``gpu_facts`` ships this file to target hosts.
"""

from __future__ import annotations

__all__ = ["COMPONENT_NAMES", "DRIVER_FAMILIES"]

#: Component names understood by ``aisec.gpu_host.csaf_match`` and emitted by ``aisec.gpu_host.gpu_facts``.
COMPONENT_NAMES = (
    "nvidia_driver",
    "nvidia_container_toolkit",
    "nvidia_gpu_operator",
    "nvidia_fabric_manager",
    "nvidia_dcgm",
    "cuda_toolkit",
    "nvidia_vbios",
    "firmware",
    "triton_inference_server",
    "tensorrt",
    "tensorrt_llm",
    "nemo_framework",
    "dynamo",
    "dcgm_exporter",
    "k8s_device_plugin",
    "mig_manager",
)

#: Families of ``nvidia_driver``: Tesla (data centre), GeForce, NVIDIA RTX/Quadro/NVS,
#: vGPU host (Virtual GPU Manager) and vGPU guest driver.
DRIVER_FAMILIES = ("datacenter", "geforce", "rtx", "vgpu_host", "vgpu_guest")

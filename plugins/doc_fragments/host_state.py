# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options every C(<role>_info) module of aisec.gpu_host shares (module_utils/host_state.py); each module documents
    the matching return values (C(files), C(contents), C(directories), C(packages), C(services))."""

    DOCUMENTATION = r"""
options:
  files:
    description:
      - Paths whose C(stat) (not following a final symlink) and, for regular files, sha256 are returned in C(files).
      - The roles compare them with the owner, group, mode and the digest of the content they render on the
        controller, so that a converged host needs no M(ansible.builtin.template) or M(ansible.builtin.file) call.
    type: list
    elements: path
    default: []
  contents:
    description:
      - Small text files (at most 256 KiB) whose content is returned in C(contents), for files the role parses
        (PAM stacks, JSON configuration). Never use it for secrets.
    type: list
    elements: path
    default: []
  directories:
    description:
      - Directories whose entry names are returned in C(directories).
    type: list
    elements: path
    default: []
  packages:
    description:
      - Package names whose installed version is returned in C(packages) (dpkg-query, or rpm without dpkg).
    type: list
    elements: str
    default: []
  services:
    description:
      - systemd units whose state is returned in C(services).
    type: list
    elements: str
    default: []
"""

# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/module_utils/atomic_file.py."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils.atomic_file import write_atomic


def test_write_replace_and_mode(tmp_path):
    path = str(tmp_path / "report.json")
    assert write_atomic(path, "één\n") == path
    assert open(path, "rb").read() == "één\n".encode("utf-8")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    write_atomic(path, b"\x00two", 0o444)
    assert open(path, "rb").read() == b"\x00two"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    assert os.listdir(str(tmp_path)) == ["report.json"]  # no temporary file left


def test_failure_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        write_atomic(str(tmp_path / "missing" / "x.json"), "x")
    target = tmp_path / "dir-in-the-way"
    target.mkdir()
    with pytest.raises(OSError):
        write_atomic(str(target), "x")
    assert sorted(os.listdir(str(tmp_path))) == ["dir-in-the-way"]

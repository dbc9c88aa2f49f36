# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atomic file replacement on the controller (the CSAF mirror, the compliance and patching reports).

Standard library only.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["write_atomic"]


def write_atomic(path, data, mode=0o640):
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) in one rename.

    The data goes to a hidden temporary file in the same directory, is flushed to disk, gets ``mode`` and is
    renamed over ``path``; readers see the old file or the new one, never a partial one. The temporary file is
    removed when anything fails. Returns ``path``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path

"""Atomic writes keep the usual file modes and leave nothing behind on failure."""

from __future__ import annotations

import os
import stat

import pytest

from distill_lib._io import atomic_directory, atomic_write_json


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_folder_and_file_get_the_usual_modes(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "checkpoint") as tmp:
            atomic_write_json(tmp / "history.json", [1])
        assert _mode(tmp_path / "checkpoint") == 0o755  # not mkdtemp's 0700
        assert _mode(tmp_path / "checkpoint" / "history.json") == 0o644
    finally:
        os.umask(umask)


def test_failed_folder_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "checkpoint") as tmp:
        (tmp / "partial").write_text("x")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []

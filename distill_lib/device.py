"""The one home of the device rule: where a run trains, in which precision, in how many processes.

Every part of the package that needs to know asks :func:`placement` (training, evaluation,
the teacher's logits, the experiment runner, the notebooks), so the rule is written once:

* **device**: ``"auto"`` is a CUDA GPU if one is visible, else Apple's MPS if available, else
  the CPU (the order ``accelerate`` uses); ``"cuda"``/``"mps"`` must exist here
  (:func:`check_device` says so before anything is written); ``"cpu"`` always works.
* **precision** (the autocast dtype): ``mixed_precision="auto"`` is bf16 on a CUDA GPU that
  supports it, fp16 on an older one, and fp32 (no autocast) elsewhere; ``"no"`` is always fp32,
  in training *and* evaluation; ``"bf16"`` works on any device; ``"fp16"`` needs CUDA.
* **workers**: how many processes train a comparison's student runs side by side
  (:mod:`distill_lib.experiment.workers`): the ``workers`` asked for, else the environment
  variable ``DISTILL_LIB_WORKERS``, else 2 on a CPU with 2 or more cores and 1 with an
  accelerator (one process keeps a GPU busy); never more than the runs to do.

The CUDA and MPS queries go through :func:`cuda_available` and :func:`mps_available`, so a test
can mock them (``tests/test_device.py``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from ._checks import check_int
from .train_config import _FIELD_RULES, DEVICES, MIXED_PRECISIONS

__all__ = [
    "DEVICES",
    "MIXED_PRECISIONS",
    "WORKERS_ENV",
    "Placement",
    "available_cores",
    "check_device",
    "cuda_available",
    "mps_available",
    "placement",
    "resolve_workers",
]

WORKERS_ENV = "DISTILL_LIB_WORKERS"
_DTYPES = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def cuda_available() -> bool:
    """Whether a CUDA GPU is visible (the one place the package asks)."""
    return torch.cuda.is_available()


def mps_available() -> bool:
    """Whether Apple's MPS backend is available (the one place the package asks)."""
    return torch.backends.mps.is_available()


@dataclass(frozen=True)
class Placement:
    """Where and how one process computes: the answer of :func:`placement`."""

    device: str
    """``"cpu"``, ``"cuda"`` or ``"mps"``: never ``"auto"``."""
    precision: str
    """``"no"`` (fp32), ``"bf16"`` or ``"fp16"``: what ``accelerate`` calls mixed precision."""

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype of autocast regions, or None for plain fp32."""
        return _DTYPES[self.precision]

    def autocast(self) -> contextlib.AbstractContextManager:
        """An autocast context for evaluation (training uses ``accelerator.autocast()``)."""
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=dtype)


def check_device(device: str, mixed_precision: str = "auto") -> None:
    """Raise ``ValueError`` at once if this machine cannot compute on ``device``.

    ``"cuda"`` needs a visible CUDA GPU, ``"mps"`` Apple's MPS backend; ``"auto"`` and
    ``"cpu"`` always work; ``mixed_precision="fp16"`` needs a CUDA GPU. Call it before any file
    is written (a :class:`~distill_lib.train_config.TrainConfig` does not, so that it can be
    made on any machine); :func:`placement` calls it too.
    """
    _FIELD_RULES["device"]("device", device)  # the choices live with TrainConfig (torch-free)
    _FIELD_RULES["mixed_precision"]("mixed_precision", mixed_precision)
    if device == "cuda" and not cuda_available():
        raise ValueError(
            f"device='cuda' but no CUDA GPU is visible (torch.cuda.is_available() is False; "
            f"this torch {torch.__version__} was built for CUDA {torch.version.cuda}); use "
            "device='auto' or 'cpu'."
        )
    if device == "mps" and not mps_available():
        raise ValueError(
            "device='mps' but Apple's MPS backend is not available here "
            "(torch.backends.mps.is_available() is False); use device='auto' or 'cpu'."
        )
    if mixed_precision == "fp16" and _device_type(device) != "cuda":
        raise ValueError(
            f"mixed_precision='fp16' needs a CUDA GPU (device={device!r}, none in use); "
            "use 'bf16' or 'no'."
        )


def _device_type(device: str) -> str:
    if device != "auto":
        return device
    if cuda_available():
        return "cuda"
    return "mps" if mps_available() else "cpu"


def placement(device: str = "auto", mixed_precision: str = "auto") -> Placement:
    """The device and precision a run with these settings uses on this machine.

    Raises:
        ValueError: from :func:`check_device` (a device or precision this machine lacks).
    """
    check_device(device, mixed_precision)
    kind = _device_type(device)
    precision = mixed_precision
    if precision == "auto":
        if kind == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "no"
    return Placement(kind, precision)


def available_cores() -> int:
    """The CPU cores this process may use (its affinity mask: a container's or a batch job's
    share, not the host's count where the platform says), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_workers(requested: int | None, device: str, pending: int) -> int:
    """How many processes train ``pending`` runs on ``device``: ``requested``, or automatic.

    Automatic (``None``): ``DISTILL_LIB_WORKERS`` if set, else 1 with an accelerator (CUDA or
    MPS in use) or a single core, else 2. Never more than ``pending`` (and at least 1).
    """
    if requested is None and os.environ.get(WORKERS_ENV, "").strip():
        value = os.environ[WORKERS_ENV].strip()
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1, got {value!r}")
        requested = int(value)
    if requested is None:
        accelerator = _device_type(device) != "cpu"
        requested = 1 if accelerator else min(2, available_cores())
    requested = check_int("workers", requested, 1)
    return max(1, min(requested, pending))

"""Is the Hugging Face Hub usable now? Offline settings and one short probe.

Shared by the Hub data sets (:mod:`distill_lib.data.hub`) and the teachers
(:mod:`distill_lib.teacher`): before a download that would retry for half a minute, both read
the offline variables and send one HEAD request with a timeout of a few seconds, so an
unreachable Hub costs seconds and gives one line. Any HTTP answer, even an error status, counts
as reachable: the download that follows gives the precise error.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for the Hub before treating it as unreachable (teachers)."""

_probe_memo: dict[str, tuple[float, str | None]] = {}


def truthy(value: str | None) -> bool:
    """Whether an environment value means on (``1``, ``ON``, ``YES``, ``TRUE``), as HF reads it."""
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def offline_variable(*names: str) -> str | None:
    """The first of the environment variables ``names`` that is set to on (read now), else None."""
    return next((name for name in names if truthy(os.environ.get(name))), None)


def endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (read now), else huggingface_hub's, no trailing /."""
    try:
        from huggingface_hub import constants

        default = constants.ENDPOINT
    except ImportError:  # pragma: no cover - transformers and datasets require huggingface_hub
        default = "https://huggingface.co"
    return os.environ.get("HF_ENDPOINT", default).rstrip("/")


def probe(url: str, timeout: float, *, remember: float = 0.0) -> str | None:
    """``None`` if ``url`` gives any HTTP answer within ``timeout`` seconds, else why not.

    One HEAD request. The reason is the error's own (refused, DNS failure, timed out, bad
    endpoint). With ``remember`` > 0 the outcome is reused for that many seconds.
    """
    if remember > 0:
        memo = _probe_memo.get(url)
        if memo is not None and time.monotonic() - memo[0] < remember:
            return memo[1]
    reason: str | None = None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # it answered
    except (OSError, ValueError) as err:  # URLError, timeout, DNS failure, bad endpoint
        reason = str(getattr(err, "reason", err))
    if remember > 0:
        _probe_memo[url] = (time.monotonic(), reason)
    return reason


def hub_offline_reason(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """``None`` if the Hub can serve models now, else why not (offline mode, DNS, timeout...).

    Honours ``HF_HUB_OFFLINE`` (and ``TRANSFORMERS_OFFLINE``), set now or when huggingface_hub
    was imported; otherwise one HEAD request with a short timeout, remembered for a minute.
    """
    if offline_variable("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        return "HF_HUB_OFFLINE is set"
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return "HF_HUB_OFFLINE was set when huggingface_hub was imported"
    except ImportError:  # pragma: no cover - transformers requires huggingface_hub
        pass
    base = endpoint()
    reason = probe(f"{base}/api/models", timeout, remember=60)
    return None if reason is None else f"{base} does not answer: {reason}"


def first_line(err: BaseException) -> str:
    """The first line of an error's message (huggingface_hub's run to several), or its type."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__

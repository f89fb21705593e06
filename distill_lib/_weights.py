"""Building a model whose weights are all copied next: skip drawing random ones first.

``type(teacher)(config)`` initialises every weight at random (0.2-0.3 s for a MiniLM student),
and the student builders then overwrite each one with a teacher tensor. transformers'
``no_init_weights`` skips the draw; :func:`skip_random_init` applies it where it exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["skip_random_init"]


@contextlib.contextmanager
def skip_random_init(enabled: bool = True) -> Iterator[None]:
    """transformers' ``no_init_weights`` when ``enabled`` and available; else a plain block."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # an older or newer layout: initialise as usual
        enabled = False
    with no_init_weights() if enabled else contextlib.nullcontext():
        yield

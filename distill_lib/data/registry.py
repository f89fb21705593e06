"""The names ``--task`` (and :func:`~distill_lib.data.load_task`) accepts, without the data.

* :data:`TASKS` and :func:`list_tasks`: the built-in offline tasks (loaded by :mod:`.builtin`);
* :data:`HUB_ALIASES`: the known Hugging Face Hub sets (loaded by :mod:`.hub`);
* :data:`LOCAL_FORMATS`: the suffixes of local data files (read by :mod:`.local`).

This module imports neither ``datasets`` nor torch, so that ``distill-lib tasks`` and the
help texts print these facts quickly; the loaders import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HUB_ALIASES", "LOCAL_FORMATS", "TASKS", "TaskInfo", "list_tasks"]


@dataclass(frozen=True)
class TaskInfo:
    """A built-in, offline task.

    Attributes
    ----------
    name : str
        The name to pass to :func:`load_task`.
    description : str
        One line for people.
    member : str
        The ground-truth file inside ``hutto_ICWSM_2014.tar.gz``.
    test_only : bool
        True for the cross-domain evaluation sets (only a ``test`` split).
    """

    name: str
    description: str
    member: str
    test_only: bool


TASKS: dict[str, TaskInfo] = {
    info.name: info
    for info in (
        TaskInfo(
            "movie-snippets",
            "10,568 movie-review sentences (rottentomatoes.com, Pang & Lee 2005) with mean human "
            "ratings from VADER's ground truth; train/validation/test 8,454/1,057/1,057 (default).",
            "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            False,
        ),
        TaskInfo(
            "amazon-snippets",
            "3,610 sentences from 309 Amazon product reviews with mean human ratings; test only "
            "(cross-domain evaluation).",
            "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
            True,
        ),
        TaskInfo(
            "nyt-snippets",
            "4,946 sentences from 500 New York Times opinion editorials with mean human ratings; "
            "test only (cross-domain evaluation).",
            "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
            True,
        ),
        TaskInfo(
            "tweet-snippets",
            "4,196 tweets with mean human ratings; test only (cross-domain evaluation).",
            "hutto_ICWSM_2014/tweets_GroundTruth.txt",
            True,
        ),
    )
}
"""The built-in offline tasks, by name."""


def list_tasks() -> dict[str, str]:
    """The built-in offline tasks and a one-line description of each.

    Returns
    -------
    dict[str, str]
        Task name (for :func:`load_task`) -> description.
    """
    return {name: info.description for name, info in TASKS.items()}


HUB_ALIASES: dict[str, tuple[str, str | None, str, str]] = {
    "glue/sst2": ("nyu-mll/glue", "sst2", "sentence", "label"),
    "sst2": ("nyu-mll/glue", "sst2", "sentence", "label"),
    "rotten_tomatoes": ("cornell-movie-review-data/rotten_tomatoes", None, "text", "label"),
    "imdb": ("stanfordnlp/imdb", None, "text", "label"),
}
"""Known Hub sets: name -> (Hub repository, config, text column, label column)."""

LOCAL_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}
"""Supported suffixes -> (``datasets`` builder, its options)."""

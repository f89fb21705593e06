"""Tokenising and batching: where model inputs are built from a task's ``text`` column.

:func:`tokenize` truncates but does not pad; :func:`make_dataloader` pads each batch to its own
longest sequence with :class:`transformers.DataCollatorWithPadding` and, for training, can order
examples with :class:`transformers.trainer_pt_utils.LengthGroupedSampler` so that a batch holds
sentences of similar length (less padding, faster epochs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from torch.utils.data import DataLoader, RandomSampler, Sampler

__all__ = ["check_tokenized", "make_dataloader", "tokenize"]


def tokenize(
    dataset_dict: DatasetDict | Dataset,
    tokenizer: Any,
    max_length: int = 128,
    *,
    text_column: str = "text",
    keep_columns: Sequence[str] = ("label",),
    batch_size: int = 1000,
) -> DatasetDict | Dataset:
    """Tokenise the text column with truncation and **no padding** (padding happens per batch).

    Parameters
    ----------
    dataset_dict : datasets.DatasetDict or datasets.Dataset
        Output of :func:`load_task` (or one of its splits).
    tokenizer : transformers.PreTrainedTokenizerBase
        The tokenizer of the model that will read the batches.
    max_length : int
        Longest sequence kept, special tokens included; longer texts are truncated.
    text_column : str
        Column holding the text.
    keep_columns : sequence of str
        Columns to keep next to the tokenizer's outputs (default ``("label",)``; add
        ``"rating"`` to keep the human rating). Names that are absent are ignored.
    batch_size : int
        Rows per call of the tokenizer inside :meth:`datasets.Dataset.map`.

    Returns
    -------
    datasets.DatasetDict or datasets.Dataset
        Same type and splits as the input, with ``input_ids`` (a list of ``seq_len`` ints per
        row, ``seq_len <= max_length`` and varying), ``attention_mask`` and, if the tokenizer
        gives them, ``token_type_ids``, plus ``keep_columns``. Everything else is dropped.
    """
    columns = dataset_dict.column_names
    first = next(iter(columns.values())) if isinstance(columns, dict) else columns
    if text_column not in first:
        raise ValueError(f"No text column {text_column!r}; available columns: {first}.")
    wanted = set(getattr(tokenizer, "model_input_names", None) or ()) | {
        "input_ids",
        "attention_mask",
        "token_type_ids",
    }

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        enc = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        return {k: v for k, v in enc.items() if k in wanted}

    def drop(names: list[str]) -> list[str]:
        return [c for c in names if c not in keep_columns]

    if isinstance(dataset_dict, DatasetDict):
        return DatasetDict(
            {
                split: ds.map(
                    encode,
                    batched=True,
                    batch_size=batch_size,
                    remove_columns=drop(ds.column_names),
                    desc=f"Tokenising {split}",
                )
                for split, ds in dataset_dict.items()
            }
        )
    return dataset_dict.map(
        encode,
        batched=True,
        batch_size=batch_size,
        remove_columns=drop(dataset_dict.column_names),
        desc="Tokenising",
    )


def _lengths(dataset: Dataset) -> list[int]:
    """Token count of every row (fast: computed by Arrow, not by Python)."""
    import pyarrow.compute as pc

    column = dataset.with_format("arrow")["input_ids"]
    return pc.list_value_length(column).to_pylist()


def make_dataloader(
    dataset: Dataset,
    tokenizer: Any,
    batch_size: int,
    *,
    shuffle: bool = False,
    group_by_length: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    pad_to_multiple_of: int | None = None,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A PyTorch ``DataLoader`` that pads each batch to its own longest sequence.

    Parameters
    ----------
    dataset : datasets.Dataset
        One split from :func:`tokenize` (it must have ``input_ids``).
    tokenizer : transformers.PreTrainedTokenizerBase
        Gives the padding token and side to :class:`transformers.DataCollatorWithPadding`.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool
        Random order (for training). False keeps the dataset order, so predictions line up
        with the rows: use it for evaluation.
    group_by_length : bool
        With ``shuffle=True``, use :class:`transformers.trainer_pt_utils.LengthGroupedSampler`:
        random mega-batches of up to 50 batches, each sorted by length, the longest batch
        first (so an out-of-memory error shows at once). Much less padding than a plain
        shuffle. Not allowed without shuffling.
    seed : int
        Seed of the shuffling generator. The order is deterministic per seed: the first
        epoch's order is the same on every run, and each new epoch (a new ``iter(loader)``)
        draws a fresh order from the same generator.
    num_workers : int
        Worker processes (0: load in the main process, usually fastest for tokenised text).
    pad_to_multiple_of : int, optional
        Round each batch's width up to a multiple of this (e.g. 8 for tensor cores).
    generator : torch.Generator, optional
        The random stream each new iterator draws its base seed from (PyTorch draws one
        number per ``iter(loader)``, even for an unshuffled loader). The training loop passes
        its run's generator; ``None`` gives the loader a private generator seeded with
        ``seed``, so that iterating it never moves the global random stream.

    Returns
    -------
    torch.utils.data.DataLoader
        Yields dicts of tensors: ``input_ids``, ``attention_mask`` (and ``token_type_ids``)
        of shape ``(batch, width)`` where ``width`` is the longest sequence in that batch, and
        ``labels`` of shape ``(batch,)`` (the collator renames ``label`` to ``labels``, the
        Hugging Face model convention).
    """
    if "input_ids" not in dataset.column_names:
        raise ValueError(
            f"The dataset has no input_ids (columns: {dataset.column_names}); run "
            "tokenize(dataset_dict, tokenizer) first."
        )
    if len(dataset) == 0:
        raise ValueError("The dataset is empty.")
    if group_by_length and not shuffle:
        raise ValueError(
            "group_by_length=True is for training (shuffle=True). An evaluation loader keeps "
            "the dataset order so that predictions line up with the rows."
        )
    from transformers import DataCollatorWithPadding
    from transformers.trainer_pt_utils import LengthGroupedSampler

    strings = [
        c
        for c, f in dataset.features.items()
        if getattr(f, "dtype", None) in ("string", "large_string")
    ]
    if strings:  # text columns cannot be collated into tensors
        dataset = dataset.remove_columns(strings)
    order = torch.Generator().manual_seed(seed)  # the sampler's own: the order per seed
    sampler: Sampler[int] | None = None
    if shuffle and group_by_length:
        sampler = LengthGroupedSampler(batch_size, lengths=_lengths(dataset), generator=order)
    elif shuffle:
        sampler = RandomSampler(dataset, generator=order)
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        collate_fn=collator,
        num_workers=num_workers,
        generator=generator if generator is not None else torch.Generator().manual_seed(seed),
    )


def check_tokenized(data: DatasetDict, splits: tuple[str, ...]) -> None:
    """Raise if ``data`` is not a DatasetDict whose ``splits`` are non-empty and tokenised."""
    if not isinstance(data, DatasetDict):
        raise TypeError(f"data must be a datasets.DatasetDict, got {type(data).__name__}")
    for split in splits:
        if split not in data:
            raise ValueError(f"data has no {split!r} split (it has {list(data)})")
        if len(data[split]) == 0:
            raise ValueError(f"the {split!r} split is empty")
        missing = [c for c in ("input_ids", "label") if c not in data[split].column_names]
        if missing:
            raise ValueError(
                f"the {split!r} split lacks {missing}: tokenise it first with "
                "distill_lib.tokenize(data, tokenizer)"
            )

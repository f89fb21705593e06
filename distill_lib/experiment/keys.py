"""How a run is named: the key hashed from everything that determines it, and its schema.

A run's JSON is ``runs/<name>-seed<seed>-<key>.json``; the key is 12 hex digits of the SHA-256
of the settings that change what is trained (teacher, data, sizes, training settings,
strategy, seed). Adding a setting to the key would rename, and so orphan, every run made
before it. The key schema makes that explicit:

* :data:`KEY_SCHEMA` is written into every ``config.json`` and run JSON.
* :data:`NOT_IN_KEY`: :class:`~distill_lib.train_config.TrainConfig` fields that change how
  fast or where a run computes, never what it learns.
* :data:`ADDED_SINCE`: settings added to the key after schema 1, with the schema that added
  each and the value every earlier run had. At that value the setting is left out of the key,
  so an older run keeps its name; :func:`migrate_train_settings` fills it in when an older
  ``config.json`` is read (an old file that lacks ``cls_only_last_layer`` trained the full
  last layer, although today's default is the shortcut).

``tests/test_committed_runs.py`` pins this: every committed run folder's ``config.json``,
planned again with today's code, finds every one of its run JSONs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..train_config import TrainConfig

RUN_FORMAT = 1
"""Version of the run JSON layout; part of every key, so a new layout never reads old files."""

KEY_SCHEMA = 3
"""1: every TrainConfig field but :data:`NOT_IN_KEY`. 2: adds ``cls_only_last_layer``. 3: adds
``layer_mapping``."""

NOT_IN_KEY: tuple[str, ...] = (
    "progress",
    "output_dir",
    "eval_batch_size",
    "compact_embeddings",  # the same run up to float rounding (distill_lib.fast)
    "unpadded_layers",  # the same run up to float rounding (distill_lib.fast)
)

ADDED_SINCE: dict[str, tuple[int, Any]] = {"cls_only_last_layer": (2, False),
                                           "layer_mapping": (3, "fixed")}
"""Setting -> (schema that added it to the key, the value every run had before)."""


def run_key(*parts: Any) -> str:
    """12 hex digits of the SHA-256 of ``parts`` as JSON: the name of a run's result."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def train_key(config: TrainConfig) -> dict[str, Any]:
    """The fields of a TrainConfig that enter a run's key (see the module docs)."""
    out = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_KEY}
    for name, (_, before) in ADDED_SINCE.items():
        if out[name] == before:
            out.pop(name)
    return out


def migrate_train_settings(settings: dict[str, Any], schema: int) -> dict[str, Any]:
    """A TrainConfig dict written under key schema ``schema``, as today's schema reads it.

    A setting added to the key since ``schema`` and absent from ``settings`` gets the value
    that runs had before it existed (not today's default).
    """
    out = dict(settings)
    for name, (since, before) in ADDED_SINCE.items():
        if schema < since:
            out.setdefault(name, before)
    return out


def schema_of(record: dict[str, Any]) -> int:
    """The key schema a ``config.json`` or run JSON was written under (1 if it does not say)."""
    schema = record.get("key_schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= KEY_SCHEMA:
        raise ValueError(
            f"key_schema {schema!r} is not one this version reads (1..{KEY_SCHEMA}): the file "
            "was written by a newer distill_lib; upgrade it"
        )
    return schema


def migrate_run_record(record: dict[str, Any]) -> dict[str, Any]:
    """A run JSON as today's schema reads it (its ``train_config`` migrated, schema set)."""
    schema = schema_of(record)
    if schema == KEY_SCHEMA or not isinstance(record.get("train_config"), dict):
        return record
    migrated = dict(record)
    migrated["train_config"] = migrate_train_settings(record["train_config"], schema)
    migrated["key_schema"] = KEY_SCHEMA
    return migrated

#!/usr/bin/env bash
# The test command from the README: unit tests, then every notebook executed in quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."
export DISTILL_LIB_QUICK=1 MPLBACKEND=Agg TOKENIZERS_PARALLELISM=false
python -m pytest -q
python -m pytest -q --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

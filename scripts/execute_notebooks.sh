#!/usr/bin/env bash
# Execute the committed notebooks in quick mode, in place, with matplotlib's inline backend, so
# that their saved outputs keep every figure (MPLBACKEND=Agg would drop them all; nbval does not
# compare images, tests/test_notebook_figures.py does). Usage:
#   bash scripts/execute_notebooks.sh                 # every notebook, in order
#   bash scripts/execute_notebooks.sh notebooks/06_comparison.ipynb
set -euo pipefail
cd "$(dirname "$0")/.."
unset MPLBACKEND
export DISTILL_LIB_QUICK=1 TOKENIZERS_PARALLELISM=false
if [ "$#" -eq 0 ]; then set -- notebooks/*.ipynb; fi
for notebook in "$@"; do
  echo "executing $notebook"
  jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.kernel_name=python3 "$notebook"
done
python -m pytest -q tests/test_notebook_figures.py

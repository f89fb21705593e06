"""pytest settings for `pytest --nbval-lax notebooks/` (see scripts/test.sh).

Every notebook is collected: with `DISTILL_LIB_QUICK=1` (or without a CUDA GPU) notebooks 4-7
run their CPU-sized variants, offline. Notebook 7's full-size run (a GPU) and its BERT-base on
SST-2 option (a GPU and the Hugging Face Hub) are never run in CI.
"""

collect_ignore: list[str] = []

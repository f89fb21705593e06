"""pytest settings for `pytest --nbval-lax notebooks/` (see scripts/test.sh).

Notebook 07 trains BERT-base on GLUE SST-2: it needs a CUDA GPU and the Hugging Face Hub, so
CI never collects it. Run it by hand on a GPU machine or in Colab.
"""

collect_ignore = ["07_bert_base_sst2_gpu.ipynb"]

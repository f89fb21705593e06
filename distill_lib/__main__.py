"""``python -m distill_lib``: the same as the ``distill-lib`` command (:mod:`distill_lib.cli`)."""

import sys

from distill_lib.cli import main

if __name__ == "__main__":
    sys.exit(main())

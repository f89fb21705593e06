"""``python -m distill_lib`` and the ``distill-lib`` command (:mod:`distill_lib.cli`).

The CLI is imported inside :func:`main`, so that Ctrl-C while torch and transformers are still
being imported ends with one line and exit code 130 instead of a long traceback.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    """Import the CLI and run it; Ctrl-C at any point prints one line and returns 130."""
    try:
        from distill_lib.cli import main as cli_main

        return cli_main(argv)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

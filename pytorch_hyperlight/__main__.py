"""``python -m pytorch_hyperlight run|tune|show ...``: the same as the ``hyperlight`` command."""

from pytorch_hyperlight.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m lamina``: the same as the ``lamina`` command."""

from lamina.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

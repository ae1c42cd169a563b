"""Entry point of the ``psychometrics`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command-line interface, or say which extra to install when it is missing."""
    try:
        from psychometrics.cli import app
    except ModuleNotFoundError as exc:  # typer/rich are the optional "cli" extra
        if exc.name in {"typer", "rich", "click"}:
            sys.stderr.write(
                "The psychometrics command needs the 'cli' extra: pip install 'psychometrics[cli]'\n"
            )
            raise SystemExit(2) from None
        raise
    app()


if __name__ == "__main__":
    main()

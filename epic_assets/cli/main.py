"""The ``epic-assets`` command.

Each sibling module of this one is a subcommand group: it defines ``register(subparsers)``, which adds
its parser(s) and sets ``handler`` to a function taking the parsed arguments and returning an exit code.
Modules are discovered, so adding a command never means editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from epic_assets import __version__, cli
from epic_assets.errors import EpicAssetsError
from epic_assets.identifiers import InvalidIdentifierError
from epic_assets.settings import SettingsError

_NOT_COMMANDS = {"main", "common"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epic-assets",
        description="Pull FHIR Bulk Data exports from Epic into DuckDB, and the tools around it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if module_info.name in _NOT_COMMANDS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{cli.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except (EpicAssetsError, SettingsError, InvalidIdentifierError) as error:
        print(f"epic-assets: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

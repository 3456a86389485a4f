"""The command dispatcher: discovery, version, and one-line errors instead of stack traces."""

from __future__ import annotations

import subprocess
import sys

from epic_assets import __version__
from epic_assets.cli.main import main


def test_version_via_console_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"epic-assets {__version__}"


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "commands" in capsys.readouterr().out

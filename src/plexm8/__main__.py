"""``python -m plexm8``: the same as the ``plexm8`` command."""

from __future__ import annotations

from plexm8.cli import main

main(prog_name="plexm8")

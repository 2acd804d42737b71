"""The demo library that ships inside the package (demo mode, examples, quick manual tests).

``src/plexsim/data/demo_library.json`` is produced by :func:`plexsim.generate.generate_library` with the fixed
arguments below; regenerate it with ``python -m plexsim.demo --write`` after changing the generator, and check it
with ``python -m plexsim.demo --check`` (the test suite does the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library, library_from_dict, library_to_dict

__all__ = [
    "DEMO_ADMIN_TOKEN",
    "DEMO_ARGUMENTS",
    "demo_library",
    "demo_library_text",
    "generate_demo_library",
    "main",
]

#: Token of the demo server's admin (account 1); the other demo accounts use ``plexsim-<name>-token``.
DEMO_ADMIN_TOKEN = ADMIN_TOKEN
#: The generator arguments the shipped file was made with. ``now`` is fixed so the file never changes by itself.
DEMO_ARGUMENTS: dict[str, int] = {"tracks": 600, "seed": 6, "accounts": 3, "now": 1_764_000_000}

_RESOURCE = ("data", "demo_library.json")


def demo_library() -> Library:
    """Load the shipped demo library (a fresh, independent object on every call)."""
    return library_from_dict(json.loads(files("plexsim").joinpath(*_RESOURCE).read_text(encoding="utf-8")))


def generate_demo_library() -> Library:
    """Generate the demo library from scratch with :data:`DEMO_ARGUMENTS` (what ``--write`` stores)."""
    return generate_library(**DEMO_ARGUMENTS)


def demo_library_text(lib: Library) -> str:
    """Serialise ``lib`` exactly as the shipped file is written: compact UTF-8 JSON, one trailing newline."""
    doc: dict[str, Any] = library_to_dict(lib)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m plexsim.demo --write | --check [--path FILE]``; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m plexsim.demo", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate the demo library file")
    action.add_argument("--check", action="store_true", help="exit 1 if the file differs from a fresh generation")
    parser.add_argument(
        "--path",
        type=Path,
        default=Path(__file__).resolve().parent.joinpath(*_RESOURCE),
        help="the file to write or check (default: the one inside the package)",
    )
    args = parser.parse_args(argv)
    text = demo_library_text(generate_demo_library())
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path} ({len(text.encode('utf-8')):,} bytes)")
        return 0
    try:
        current = args.path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{args.path}: {exc.strerror}", file=sys.stderr)
        return 1
    if current != text:
        print(f"{args.path} is out of date: run python -m plexsim.demo --write", file=sys.stderr)
        return 1
    print(f"{args.path} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

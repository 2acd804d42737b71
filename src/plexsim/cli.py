"""The ``plexsim`` command: serve a library file over HTTP, or generate one."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from plexsim.library import LibraryFormatError, dump_library, load_library

__all__ = ["main"]


@click.group()
def main() -> None:
    """plexsim: a faithful Plex Media Server simulator for a music library."""


@main.command()
@click.option(
    "--library",
    "library_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Library file (JSON) to serve, as written by `plexsim generate`.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it on loopback).")
@click.option("--port", default=32400, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks one.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Delay per request.")
@click.option("--token", "tokens", multiple=True, help="Extra token accepted for the admin account (repeatable).")
@click.option(
    "--prewarm/--no-prewarm",
    default=True,
    show_default=True,
    help="Render every item before listening, so the first full listing is as fast as later ones.",
)
def serve(library_path: Path, host: str, port: int, latency_ms: float, tokens: tuple[str, ...], prewarm: bool) -> None:
    """Serve a library file over HTTP until interrupted."""
    from plexsim.server import start_server

    try:
        library = load_library(library_path)
    except (LibraryFormatError, OSError) as exc:
        raise click.ClickException(f"cannot load {library_path}: {exc}") from None
    try:
        running = start_server(
            library, host=host, port=port, latency_ms=latency_ms, extra_tokens=tokens, prewarm=prewarm
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    admin = running.state.accounts[1]
    click.echo(f"plexsim serving {len(library.tracks)} tracks on {running.url} (admin token: {admin.tokens[0]})")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@main.command()
@click.option("--tracks", required=True, type=click.IntRange(min=1), help="Number of tracks to generate.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed: same seed, same library.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--accounts", default=3, show_default=True, type=click.IntRange(min=1), help="Accounts, admin included.")
@click.option("--plays", type=click.IntRange(min=0), help="History entries in total (default: 3 x tracks).")
@click.option("--playlists", type=click.IntRange(min=0), help="Playlists in total (default: grows with the library).")
@click.option(
    "--sonic-fraction",
    default=0.9,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of tracks with sonic analysis.",
)
@click.option("--sonic-dims", default=16, show_default=True, type=click.IntRange(min=1), help="Sonic vector length.")
@click.option(
    "--now",
    default=1_764_000_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="The epoch second the library is generated 'at' (history ends here); fixed so output is reproducible.",
)
def generate(
    tracks: int,
    seed: int,
    out: Path,
    accounts: int,
    plays: int | None,
    playlists: int | None,
    sonic_fraction: float,
    sonic_dims: int,
    now: int,
) -> None:
    """Generate a realistic, deterministic library file."""
    from plexsim.generate import generate_library

    library = generate_library(
        tracks=tracks,
        seed=seed,
        accounts=accounts,
        plays=plays,
        playlists=playlists,
        sonic_fraction=sonic_fraction,
        sonic_dims=sonic_dims,
        now=now,
    )
    try:
        dump_library(library, out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    click.echo(f"wrote {len(library.tracks)} tracks, {len(library.albums)} albums to {out}")

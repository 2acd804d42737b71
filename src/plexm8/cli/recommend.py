"""``plexm8 recommend``: similar tracks, tracks for you, and the model build, for the account of PLEX_TOKEN."""

from __future__ import annotations

import re
from collections.abc import Callable

import click

from plexm8.bootstrap import Services
from plexm8.cli.context import account_services, fail, load_cli_settings
from plexm8.core.accounts import PlexAccount
from plexm8.core.tracks import TrackQuery, TrackView
from plexm8.services.playlists import PlaylistService
from plexm8.services.recommendations import MAX_LIMIT, RecommendedTrack

__all__ = ["recommend"]

_KEY = re.compile(r"^(?:/library/metadata/)?([0-9]{1,16})$")
#: Candidates a search looks at when it picks the track a text names.
_SEARCH_LIMIT = 50

_limit_option = click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=25, show_default=True, help="At most this many tracks."
)
_save_option = click.option(
    "--save-as", "save_as", metavar="TITLE", help="Also save the tracks, in order, as a new Plex playlist TITLE."
)
_played_option = click.option(
    "--exclude-played-days",
    type=click.FloatRange(0, 36_500),
    help="Leave out tracks you played in the last N days.",
)
_per_artist_option = click.option(
    "--per-artist", type=click.IntRange(1, MAX_LIMIT), help="At most this many tracks per artist."
)
_novelty_option = click.option(
    "--novelty",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="0 favours familiar tracks, 1 tracks you rarely play.",
)


@click.group(invoke_without_command=True, no_args_is_help=False)
@click.pass_context
def recommend(ctx: click.Context) -> None:
    """Recommendations from your own library: similar tracks and tracks for your taste.

    They come from your playlists, your listening sessions, your ratings, the tracks' genres, styles and moods and
    Plex's sonic analysis, through a model built from the local index (`plexm8 recommend build`; the first query
    builds it when there is none).
    """
    # Settings are checked before anything else, like every other command: a bad one stops with one line.
    load_cli_settings(ctx)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _ensure_model(services: Services, account: PlexAccount) -> None:
    """Build the account's model now (with a note on stderr) when it has none, instead of answering 'not ready'."""
    if not services.recommendations.status(account).built:
        click.echo("Building your recommendations first (this happens once)...", err=True)
        services.recommendations.build(account)


def _resolve_track(services: Services, account: PlexAccount, text: str) -> int:
    """The rating key a key, ``/library/metadata/<key>`` or ``"artist - title"`` search names; fails if none."""
    services.index.ensure_account_indexed(account)
    match = _KEY.match(text.strip())
    if match is not None:
        key = int(match.group(1))
        if services.queries.track(account.key, key) is None:
            fail(f"no track has the key /library/metadata/{key}")
        return key
    artist, dash, title = text.partition(" - ")
    words = f"{artist} {title}" if dash else text
    page = services.queries.find_tracks(account.key, TrackQuery(text=words, limit=_SEARCH_LIMIT))
    if not page.items:
        fail(f"no track matches {text!r}; give its key (e.g. /library/metadata/123) or 'artist - title'")
    return _best_match(page.items, artist.strip() if dash else None, (title if dash else text).strip()).rating_key


def _best_match(tracks: tuple[TrackView, ...], artist: str | None, title: str) -> TrackView:
    """The candidate whose title (and artist, when given) equal the search's exactly, else the first."""

    def exact(track: TrackView) -> bool:
        same_title = track.title.casefold() == title.casefold()
        same_artist = artist is None or (track.artist or "").casefold() == artist.casefold()
        return same_title and same_artist

    return next((track for track in tracks if exact(track)), tracks[0])


def _show(found: list[RecommendedTrack]) -> None:
    if not found:
        click.echo("No recommendations: every candidate was excluded.")
        return
    for number, item in enumerate(found, start=1):
        track = item.track
        album = f" ({track.album})" if track.album else ""
        click.echo(f"{number:>3}. {track.artist or '?'} - {track.title}{album}  [{item.score:.3f}] {item.reason}")
        click.echo(f"     /library/metadata/{track.rating_key}")


def _save(services: Services, account: PlexAccount, title: str, found: list[RecommendedTrack]) -> None:
    if not found:
        fail("nothing to save: the answer is empty")
    playlists = PlaylistService(services.playlists_for(account.token), services.index.store, account=account.key)
    created = playlists.create(title, [item.track.rating_key for item in found])
    click.echo(f"Saved as the playlist {created.title!r} (id {created.rating_key}, {len(found)} tracks).")


def _run(
    ctx: click.Context,
    query: Callable[[Services, PlexAccount, list[int]], list[RecommendedTrack]],
    save_as: str | None,
    *,
    seeds: tuple[str, ...] = (),
) -> None:
    with account_services(ctx) as (services, account):
        # Seeds first: a typo fails at once instead of after a model build.
        keys = [_resolve_track(services, account, seed) for seed in seeds]
        _ensure_model(services, account)
        found = query(services, account, keys)
        _show(found)
        if save_as is not None:
            _save(services, account, save_as, found)


@recommend.command()
@click.argument("track")
@_limit_option
@_played_option
@_per_artist_option
@_novelty_option
@_save_option
@click.pass_context
def similar(
    ctx: click.Context,
    track: str,
    limit: int,
    exclude_played_days: float | None,
    per_artist: int | None,
    novelty: float,
    save_as: str | None,
) -> None:
    """Tracks similar to TRACK: a key (123 or /library/metadata/123) or "artist - title".

    Prints one track a line with its score and reason, then its key. Exits with 1 and a one-line error when the
    track is unknown.
    """

    def query(services: Services, account: PlexAccount, keys: list[int]) -> list[RecommendedTrack]:
        return services.recommendations.similar(
            account,
            track_keys=keys,
            limit=limit,
            exclude_played_days=exclude_played_days,
            per_artist=per_artist,
            novelty=novelty,
        )

    _run(ctx, query, save_as, seeds=(track,))


@recommend.command("for-me")
@_limit_option
@_played_option
@_per_artist_option
@_novelty_option
@_save_option
@click.pass_context
def for_me(
    ctx: click.Context,
    limit: int,
    exclude_played_days: float | None,
    per_artist: int | None,
    novelty: float,
    save_as: str | None,
) -> None:
    """Tracks for your taste that you have not rated (or not played for long), best first."""

    def query(services: Services, account: PlexAccount, keys: list[int]) -> list[RecommendedTrack]:
        return services.recommendations.for_user(
            account, limit=limit, exclude_played_days=exclude_played_days, per_artist=per_artist, novelty=novelty
        )

    _run(ctx, query, save_as)


@recommend.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Build your recommendation model now (as a job; see `plexm8 jobs`) and report what it learnt from.

    The local index is built first when there is none (Plex must answer then).
    """
    with account_services(ctx) as (services, account):
        job = services.recommendations.build(account)
    counts = job.counts
    seconds = job.result.get("seconds") if job.result else None
    took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    click.echo(
        f"Recommendations built{took} (job {job.id}): {counts.get('tracks', 0)} tracks, "
        f"{counts.get('playlists', 0)} playlists, {counts.get('sessions', 0)} listening sessions, "
        f"{counts.get('ratings', 0)} ratings, sonic neighbours of {counts.get('sonic_tracks', 0)} tracks."
    )

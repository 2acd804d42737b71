"""``plexm8 recommend`` through click's CliRunner against plexsim over loopback HTTP, on a temporary data dir."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner
from plexapi.server import PlexServer

from plexm8.cli import main
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server

_KEY_LINE = re.compile(r"^\s+/library/metadata/(\d+)$")


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=250, seed=4)


@pytest.fixture
def plex(library: Library) -> Iterator[RunningServer]:
    with start_server(library) as server:
        yield server


def run(plex: RunningServer, *args: str) -> click.testing.Result:
    env = {"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": ADMIN_TOKEN}
    return CliRunner().invoke(main, ["recommend", *args], env=env, catch_exceptions=False)


def listed_keys(output: str) -> list[int]:
    return [int(m.group(1)) for line in output.splitlines() if (m := _KEY_LINE.match(line))]


def test_build_reports_what_the_model_learnt_from(plex: RunningServer, library: Library) -> None:
    result = run(plex, "build")
    assert result.exit_code == 0, result.output
    assert re.match(rf"^Recommendations built in [0-9.]+ s \(job \d+\): {len(library.tracks)} tracks, ", result.stdout)
    assert "listening sessions" in result.stdout and ADMIN_TOKEN not in result.output


def test_for_me_builds_first_then_lists_tracks_with_reasons(plex: RunningServer) -> None:
    result = run(plex, "for-me", "--limit", "6")
    assert result.exit_code == 0, result.output
    assert "Building your recommendations first" in result.stderr
    numbered = [line for line in result.stdout.splitlines() if re.match(r"^\s+\d+\. ", line)]
    assert len(numbered) == 6 and all(re.search(r"\[\d+\.\d{3}\] \S", line) for line in numbered)
    assert len(listed_keys(result.stdout)) == 6
    again = run(plex, "for-me", "--limit", "6")
    assert "Building" not in again.stderr, "the model on disk is used"
    assert listed_keys(again.stdout) == listed_keys(result.stdout)


def test_similar_by_key_and_by_artist_and_title(plex: RunningServer, library: Library) -> None:
    albums = {album.id: album for album in library.albums}
    artists = {artist.id: artist for artist in library.artists}
    track = library.tracks[10]
    artist = track.original_title or artists[albums[track.album].artist].title
    by_key = run(plex, "similar", f"/library/metadata/{track.id}", "--limit", "5")
    assert by_key.exit_code == 0, by_key.output
    found = listed_keys(by_key.stdout)
    assert len(found) == 5 and track.id not in found
    by_name = run(plex, "similar", f"{artist} - {track.title}", "--limit", "5")
    assert by_name.exit_code == 0, by_name.output
    assert listed_keys(by_name.stdout) == found


def test_options_reach_the_query(plex: RunningServer, library: Library) -> None:
    album_artist = {album.id: album.artist for album in library.albums}
    artist_of = {track.id: album_artist[track.album] for track in library.tracks}
    result = run(plex, "for-me", "--limit", "20", "--per-artist", "1", "--exclude-played-days", "36500")
    assert result.exit_code == 0, result.output
    found = listed_keys(result.stdout)
    assert found and len({artist_of[key] for key in found}) == len(found)


def test_save_as_creates_the_playlist_in_plex(plex: RunningServer) -> None:
    result = run(plex, "for-me", "--limit", "8", "--save-as", "PlexM8 picks")
    assert result.exit_code == 0, result.output
    assert "Saved as the playlist 'PlexM8 picks'" in result.stdout
    playlist = PlexServer(plex.url, ADMIN_TOKEN).playlist("PlexM8 picks")
    assert [int(item.ratingKey) for item in playlist.items()] == listed_keys(result.stdout)


@pytest.mark.parametrize(
    ("track", "message"),
    [
        ("/library/metadata/99999999", "no track has the key /library/metadata/99999999"),
        ("zzqx - nothing", "no track matches"),
    ],
)
def test_an_unknown_track_fails_with_one_line(plex: RunningServer, track: str, message: str) -> None:
    result = run(plex, "similar", track)
    assert result.exit_code == 1
    assert result.stderr.startswith("plexm8: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_options_are_usage_errors(plex: RunningServer) -> None:
    for args in (["for-me", "--limit", "0"], ["for-me", "--novelty", "3"], ["similar"]):
        result = run(plex, *args)
        assert result.exit_code == 2


def test_plex_unreachable_fails_with_one_line(closed_url: str) -> None:
    env = {"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": ADMIN_TOKEN, "PLEX_TIMEOUT": "2"}
    result = CliRunner().invoke(main, ["recommend", "for-me"], env=env, catch_exceptions=False)
    assert result.exit_code == 1 and result.stderr.startswith("plexm8: error: ")


@pytest.mark.parametrize("command", ["similar", "for-me", "build"])
def test_commands_have_help(command: str) -> None:
    result = CliRunner().invoke(main, ["recommend", command, "--help"])
    assert result.exit_code == 0 and len(result.output.splitlines()) > 5

"""A small playlist world with planted structure: stations (clusters) of songs with their own artists and genres."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from plexm8.recommend.data import LibrarySignals, TrackInfo, UserSignals

STATIONS = 8
SONGS_PER_STATION = 30
ARTISTS_PER_STATION = 6
HITS = 10  # songs every station plays: what a popularity ranking finds
GENRES = ("rock", "pop", "country", "jazz", "hip hop", "metal", "soul", "folk")


@dataclass(frozen=True, slots=True)
class World:
    """Tracks, playlists drawn from stations, and which station each song belongs to (-1 for the shared hits)."""

    tracks: tuple[TrackInfo, ...]
    playlists: tuple[tuple[int, ...], ...]
    station_of: dict[int, int]


def make_world(seed: int = 7, playlists: int = 900) -> World:
    """Playlists mostly follow one station's rotation, with a few shared hits mixed in."""
    rng = random.Random(seed)
    tracks: list[TrackInfo] = []
    station_of: dict[int, int] = {}
    for station in range(STATIONS):
        for song in range(SONGS_PER_STATION):
            key = len(tracks)
            artist = f"Artist {station}-{song % ARTISTS_PER_STATION}"
            tracks.append(
                TrackInfo(
                    key=key,
                    title=f"Song {station}/{song}",
                    artist=artist,
                    album=f"Album {station}-{song % ARTISTS_PER_STATION}",
                    year=1970 + 5 * station,
                    genres=(GENRES[station],),
                )
            )
            station_of[key] = station
    for hit in range(HITS):
        key = len(tracks)
        tracks.append(TrackInfo(key=key, title=f"Hit {hit}", artist=f"Star {hit}", genres=("pop",)))
        station_of[key] = -1
    by_station = {s: [k for k, v in station_of.items() if v == s] for s in range(STATIONS)}
    hits = [k for k, v in station_of.items() if v == -1]
    lists: list[tuple[int, ...]] = []
    for _ in range(playlists):
        station = rng.randrange(STATIONS)
        songs = by_station[station]
        length = rng.randint(6, 14)
        # Zipf-like rotation inside a station: a few songs get most of the air time.
        weights = [1.0 / (1 + i) ** 0.7 for i in range(len(songs))]
        picked = rng.choices(songs, weights=weights, k=length)
        for _ in range(rng.choice((0, 0, 1))):
            picked.insert(rng.randrange(len(picked) + 1), rng.choice(hits))
        lists.append(tuple(picked))
    return World(tracks=tuple(tracks), playlists=tuple(lists), station_of=station_of)


def write_yes_dataset(world: World, folder: Path) -> Path:
    """The world in the Cornell "yes" file layout (tags as ids, '#' for none), as ``plexm8 eval`` reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted({g for t in world.tracks for g in t.genres} | {"unused"})
    tag_id = {name: i for i, name in enumerate(names)}
    (folder / "tag_hash.txt").write_text("".join(f"{i}, {name}\n" for name, i in tag_id.items()), encoding="utf-8")
    (folder / "song_hash.txt").write_text(
        "".join(f"{t.key}\t{t.title.replace('/', chr(92) + '/')}\t{t.artist}\n" for t in world.tracks),
        encoding="utf-8",
    )
    tag_lines = [" ".join(str(tag_id[g]) for g in t.genres) or "#" for t in world.tracks]
    (folder / "tags.txt").write_text("\n".join(tag_lines) + "\n", encoding="utf-8")
    (folder / "playlists_dev.txt").write_text(
        "".join(" ".join(map(str, p)) + "\n" for p in world.playlists), encoding="utf-8"
    )
    return folder


@pytest.fixture(scope="session")
def world() -> World:
    return make_world()


@pytest.fixture(scope="session")
def signals(world: World) -> LibrarySignals:
    """The world as one account's library: its playlists, some sessions, ratings and plays, and sonic data."""
    sessions = [p[::-1] for p in world.playlists[:100]]
    station0 = [k for k, s in world.station_of.items() if s == 0]
    station1 = [k for k, s in world.station_of.items() if s == 1]
    ratings = {station0[0]: 10.0, station0[1]: 8.0, station1[0]: 2.0}
    plays = {k: 50 - i for i, k in enumerate(station0[:10])}
    sonic = {station0[0]: [(station0[5], 0.1), (station0[6], 0.2)]}
    return LibrarySignals(
        tracks=world.tracks,
        playlists=world.playlists,
        sessions=sessions,
        user=UserSignals(ratings=ratings, play_counts=plays, last_played=dict.fromkeys(plays, 1_700_000_000)),
        sonic=sonic,
    )

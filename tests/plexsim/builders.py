"""Small hand-built libraries for plexsim's tests (the generator has its own tests)."""

from __future__ import annotations

import math

from plexsim.library import (
    Account,
    Album,
    Artist,
    HistoryEntry,
    Library,
    Playlist,
    PlayState,
    Rating,
    Section,
    ServerInfo,
    Track,
)

ADMIN_TOKEN = "admin-token"
ALICE_TOKEN = "alice-token"
BOB_TOKEN = "bob-token"
MACHINE_ID = "0123456789abcdef0123456789abcdef01234567"
NOW = 1_750_000_000


def _sonic(angle: float) -> list[float]:
    """A unit vector on a circle in the first two dimensions: the angle between two tracks sets their distance."""
    return [round(math.cos(angle), 4), round(math.sin(angle), 4), 0.0, 0.0]


def small_library() -> Library:
    """Three artists, four albums (one two-disc), 14 tracks, three accounts with ratings, plays, history, playlists."""
    artists = [
        Artist(
            id=10,
            title="Björk",
            added_at=NOW - 900_000,
            updated_at=NOW - 800_000,
            genres=["Electronic"],
            styles=["Trip Hop"],
            moods=["Quirky"],
            countries=["Iceland"],
        ),
        Artist(
            id=11,
            title="The Zephyrs",
            sort_title="Zephyrs",
            added_at=NOW - 700_000,
            updated_at=NOW - 700_000,
            genres=["Rock"],
            styles=["Indie Rock"],
        ),
        Artist(id=12, title="Ace & <Bros>", added_at=NOW - 600_000, updated_at=NOW - 600_000, genres=["Jazz"]),
    ]
    albums = [
        Album(
            id=20,
            artist=10,
            title="Homogenic",
            year=1997,
            originally_available_at="1997-09-22",
            studio="One Little",
            added_at=NOW - 900_000,
            updated_at=NOW - 800_000,
            genres=["Electronic"],
            styles=["Trip Hop"],
        ),
        Album(
            id=21,
            artist=10,
            title="Debut",
            year=1993,
            originally_available_at="1993-07-05",
            added_at=NOW - 850_000,
            updated_at=NOW - 800_000,
            genres=["Pop"],
        ),
        Album(
            id=22,
            artist=11,
            title="Double Trouble",
            year=2005,
            studio="Sub Pop",
            added_at=NOW - 700_000,
            updated_at=NOW - 700_000,
            genres=["Rock"],
            moods=["Angry"],
        ),
        Album(
            id=23,
            artist=12,
            title="Live at the Café",
            year=2011,
            added_at=NOW - 600_000,
            updated_at=NOW - 600_000,
            genres=["Jazz"],
        ),
    ]
    tracks: list[Track] = []
    next_id = 100

    def add(
        album: int,
        title: str,
        *,
        disc: int = 1,
        index: int,
        duration: int,
        sonic: float | None,
        genres: list[str] | None = None,
        moods: list[str] | None = None,
        original: str | None = None,
    ) -> None:
        nonlocal next_id
        tracks.append(
            Track(
                id=next_id,
                album=album,
                title=title,
                disc=disc,
                index=index,
                duration=duration,
                original_title=original,
                file=f"/data/music/a{album}/{disc:02d}-{index:02d} {title}.flac",
                size=duration * 100,
                bitrate=900,
                added_at=NOW - 500_000 + next_id,
                updated_at=NOW - 400_000,
                genres=genres or [],
                moods=moods or [],
                rating_count=next_id * 10,
                sonic=None if sonic is None else _sonic(sonic),
                guid=f"plex://track/{next_id:024x}",
            )
        )
        next_id += 1

    add(20, "Hunter", index=1, duration=255_000, sonic=0.00, genres=["Electronic"], moods=["Eerie"])
    add(20, "Jóga", index=2, duration=305_000, sonic=0.05, moods=["Eerie", "Tender"])
    add(20, "Bachelorette", index=3, duration=312_000, sonic=0.10)
    add(21, "Human Behaviour", index=1, duration=252_000, sonic=0.20)
    add(21, "Venus as a Boy", index=2, duration=281_000, sonic=None)
    add(22, "Disc One Opener", disc=1, index=1, duration=200_000, sonic=1.20, genres=["Rock"])
    add(22, "Disc One Closer", disc=1, index=2, duration=210_000, sonic=1.25)
    add(22, "Disc Two Opener", disc=2, index=1, duration=220_000, sonic=1.30)
    add(22, "Disc Two Closer", disc=2, index=2, duration=230_000, sonic=1.35, original="The Zephyrs feat. Ace")
    add(23, "Tab\tand\x01control", index=1, duration=400_000, sonic=2.50)
    add(23, "Blue in Green", index=2, duration=330_000, sonic=2.55)
    add(23, "So What", index=3, duration=560_000, sonic=2.60)
    add(23, "Freddie", index=4, duration=300_000, sonic=2.70)
    add(23, "Flamenco", index=5, duration=550_000, sonic=2.80)

    accounts = [
        Account(
            id=1,
            name="admin",
            tokens=[ADMIN_TOKEN],
            ratings=[
                Rating(100, 10.0, NOW - 1000),
                Rating(101, 8.0, NOW - 2000),
                Rating(105, 4.0, NOW - 3000),
                Rating(20, 9.0, NOW - 4000),
            ],
            plays=[PlayState(100, 5, NOW - 100), PlayState(101, 2, NOW - 200), PlayState(20, 7, NOW - 100)],
            history=[HistoryEntry(100, NOW - 100), HistoryEntry(101, NOW - 200), HistoryEntry(100, NOW - 86_400 * 40)],
            playlists=[
                Playlist(id=500, title="Favourites", items=[100, 101, 108], added_at=NOW - 5000, updated_at=NOW - 5000),
                Playlist(
                    id=501,
                    title="Top rated",
                    smart=True,
                    query="/library/sections/3/all?type=10&track.userRating>>=6&sort=track.userRating:desc",
                    added_at=NOW - 5000,
                    updated_at=NOW - 5000,
                ),
            ],
        ),
        Account(
            id=2,
            name="alice",
            tokens=[ALICE_TOKEN],
            ratings=[Rating(100, 2.0, NOW - 500)],
            plays=[PlayState(110, 1, NOW - 50)],
            history=[HistoryEntry(110, NOW - 50, device_id=2)],
        ),
        Account(id=3, name="bob", tokens=[BOB_TOKEN]),
    ]
    return Library(
        server=ServerInfo(machine_identifier=MACHINE_ID, friendly_name="plexsim-test"),
        section=Section(id=3, title="Music"),
        artists=artists,
        albums=albums,
        tracks=tracks,
        accounts=accounts,
    )

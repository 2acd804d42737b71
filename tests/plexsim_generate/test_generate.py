"""The library generator: deterministic, valid, and shaped like a real listener's library; the shipped demo file."""

from __future__ import annotations

import inspect
import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from plexsim.demo import DEMO_ADMIN_TOKEN, DEMO_ARGUMENTS, demo_library, demo_library_text, generate_demo_library, main
from plexsim.generate import ADMIN_TOKEN, FIRST_ID, VARIOUS_ARTISTS, generate_library
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
    dump_library,
    library_from_dict,
    library_to_dict,
    load_library,
)

NOW = 1_764_000_000
N = 2500


@pytest.fixture(scope="module")
def lib() -> Library:
    return generate_library(tracks=N, seed=11, now=NOW)


def _by_id(lib: Library) -> tuple[dict[int, Artist], dict[int, Album], dict[int, Track]]:
    return {a.id: a for a in lib.artists}, {a.id: a for a in lib.albums}, {t.id: t for t in lib.tracks}


# --- determinism and the file format -----------------------------------------------------------------------


def test_same_arguments_give_the_same_library() -> None:
    a = library_to_dict(generate_library(tracks=400, seed=5))
    b = library_to_dict(generate_library(tracks=400, seed=5))
    assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def test_different_seeds_give_different_libraries() -> None:
    a = generate_library(tracks=400, seed=5)
    b = generate_library(tracks=400, seed=6)
    assert [t.title for t in a.tracks] != [t.title for t in b.tracks]
    assert [x.title for x in a.artists] != [x.title for x in b.artists]


def test_listening_knobs_leave_the_catalogue_alone() -> None:
    few = generate_library(tracks=300, seed=3, plays=10, playlists=0)
    many = generate_library(tracks=300, seed=3, plays=2000, playlists=9)
    assert library_to_dict(few)["tracks"] == library_to_dict(many)["tracks"]
    assert library_to_dict(few)["albums"] == library_to_dict(many)["albums"]


def test_sonic_knobs_change_only_vectors_and_track_moods() -> None:
    full = generate_library(tracks=300, seed=3, sonic_dims=16)
    none = generate_library(tracks=300, seed=3, sonic_fraction=0.0, sonic_dims=8)
    assert all(t.sonic is None and not t.moods for t in none.tracks)
    strip = [(t.id, t.title, t.file, t.duration, t.size) for t in full.tracks]
    assert strip == [(t.id, t.title, t.file, t.duration, t.size) for t in none.tracks]
    eight = generate_library(tracks=300, seed=3, sonic_dims=8)
    assert {len(t.sonic) for t in eight.tracks if t.sonic} == {8}


def test_round_trip_through_the_file_format(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "lib.json"
    dump_library(lib, path)
    again = load_library(path)
    assert library_to_dict(again) == library_to_dict(lib)


@pytest.mark.parametrize("count", [1, 7, 100, 1234])
def test_track_count_is_exact(count: int) -> None:
    lib = generate_library(tracks=count, seed=count)
    assert len(lib.tracks) == count
    assert all(any(t.album == a.id for t in lib.tracks) for a in lib.albums), "no empty albums"


def test_plays_and_playlists_counts_are_honoured() -> None:
    lib = generate_library(tracks=500, seed=2, accounts=4, plays=3333, playlists=13)
    assert sum(len(a.history) for a in lib.accounts) == 3333
    assert sum(len(a.playlists) for a in lib.accounts) == 13
    assert len(lib.accounts) == 4
    default = generate_library(tracks=500, seed=2)
    assert sum(len(a.history) for a in default.accounts) == 3 * 500


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tracks": 0},
        {"tracks": 10, "accounts": 0},
        {"tracks": 10, "plays": -1},
        {"tracks": 10, "playlists": -1},
        {"tracks": 10, "sonic_fraction": 1.5},
        {"tracks": 10, "sonic_dims": 0},
        {"tracks": 10, "now": 1000},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        generate_library(seed=1, **kwargs)  # type: ignore[arg-type]


def test_ids_share_one_rating_key_space_and_playlists_follow(lib: Library) -> None:
    item_ids = [a.id for a in lib.artists] + [a.id for a in lib.albums] + [t.id for t in lib.tracks]
    assert sorted(item_ids) == list(range(FIRST_ID, FIRST_ID + len(item_ids)))
    playlist_ids = [p.id for a in lib.accounts for p in a.playlists]
    assert len(set(playlist_ids)) == len(playlist_ids)
    assert min(playlist_ids) > max(item_ids)


# --- the catalogue -----------------------------------------------------------------------------------------


def test_compilations_belong_to_various_artists(lib: Library) -> None:
    artists, _albums, _tracks = _by_id(lib)
    comps = [a for a in lib.albums if a.compilation]
    assert comps
    assert {artists[a.artist].title for a in comps} == {VARIOUS_ARTISTS}
    comp_ids = {a.id for a in comps}
    comp_tracks = [t for t in lib.tracks if t.album in comp_ids]
    assert all(t.original_title for t in comp_tracks), "compilation tracks name their artist"
    performers = {t.original_title for t in comp_tracks}
    assert len(performers) > 3
    assert all(f"/{VARIOUS_ARTISTS}/" in t.file for t in comp_tracks)


def test_multi_disc_albums_number_tracks_per_disc(lib: Library) -> None:
    per_album: dict[int, list[Track]] = {}
    for t in lib.tracks:
        per_album.setdefault(t.album, []).append(t)
    multi = [ts for ts in per_album.values() if max(t.disc for t in ts) > 1]
    assert multi
    for ts in multi:
        for disc in {t.disc for t in ts}:
            assert sorted(t.index for t in ts if t.disc == disc) == list(range(1, 1 + sum(t.disc == disc for t in ts)))
        assert all(f"/CD{t.disc}/" in t.file for t in ts)


def test_album_lengths_vary_like_real_releases(lib: Library) -> None:
    sizes = Counter(t.album for t in lib.tracks)
    assert any(n <= 3 for n in sizes.values()), "singles"
    assert any(4 <= n <= 6 for n in sizes.values()), "EPs"
    assert any(8 <= n <= 16 for n in sizes.values()), "LPs"
    assert any(n >= 20 for n in sizes.values()), "deluxe editions and double albums"
    albums_per_artist = Counter(a.artist for a in lib.albums if not a.compilation)
    assert max(albums_per_artist.values()) >= 5
    assert sum(1 for n in albums_per_artist.values() if n == 1) > len(albums_per_artist) / 5


def test_names_include_unicode_punctuation_and_articles(lib: Library) -> None:
    big = generate_library(tracks=8000, seed=11)
    names = [a.title for a in big.artists]
    scripts = {unicodedata.name(c).split()[0] for n in names for c in n if ord(c) > 127 and c.isalpha()}
    assert {"LATIN", "CJK", "CYRILLIC", "GREEK"} <= scripts | {"CJK" if "HIRAGANA" in scripts else ""}
    assert any(c in "öÖ" for n in names for c in n)
    assert any("/" in n for n in names)
    assert any(" + " in n or " & " in n for n in names)
    assert any(n and not any(ch.isalnum() for ch in n) for n in names), "a name made of punctuation only"
    the = [a for a in big.artists if a.title.startswith("The ")]
    assert the and all(a.sort_title == a.title[4:] for a in the)
    assert any(ord(c) > 127 for t in lib.tracks for c in t.title)


def test_the_same_song_appears_on_several_albums(lib: Library) -> None:
    _artists, albums, _tracks = _by_id(lib)
    strip = re.compile(r" (\(|\[|- ).*$")
    where: dict[str, set[int]] = {}
    for t in lib.tracks:
        where.setdefault(strip.sub("", t.title), set()).add(t.album)
    shared = [ids for ids in where.values() if len(ids) > 1]
    assert len(shared) > 20
    titles = {albums[a].title for ids in shared for a in ids}
    assert any(t.startswith(("Live at ", "Live in ", "Alive in ")) for t in titles)
    assert any("Remaster" in t for t in titles)
    assert any(albums[a].compilation for ids in shared for a in ids)


def test_live_versions_last_longer_than_studio_versions(lib: Library) -> None:
    _artists, albums, _tracks = _by_id(lib)
    live = {a.id for a in lib.albums if a.title.startswith(("Live ", "Alive "))}
    studio: dict[tuple[int, str], int] = {}
    for t in lib.tracks:
        if t.album not in live and not albums[t.album].compilation:
            studio.setdefault((albums[t.album].artist, t.title), t.duration)
    pairs = []
    for t in lib.tracks:
        if t.album in live:
            base = re.sub(r"( - Live| \(Live\)| \[Live\])$", "", t.title)
            if (albums[t.album].artist, base) in studio:
                pairs.append((studio[(albums[t.album].artist, base)], t.duration))
    assert pairs
    assert sum(live_ms > studio_ms for studio_ms, live_ms in pairs) > 0.8 * len(pairs)


def test_featured_artists_in_titles_and_credits(lib: Library) -> None:
    titles = [t.title for t in lib.tracks]
    credits = [t.original_title or "" for t in lib.tracks]
    assert any("(feat. " in t for t in titles)
    assert any(" feat. " in c or " ft. " in c or " featuring " in c for c in credits)


def test_reissues_keep_their_tags(lib: Library) -> None:
    titles = [a.title for a in lib.albums]
    assert any(re.search(r"\((Remastered \d{4}|\d{4} Remaster)\)| - Remastered|\[Remastered\]", t) for t in titles)
    assert any("Deluxe" in t or "Expanded" in t for t in titles)


def test_durations_dates_and_files_are_plausible(lib: Library) -> None:
    _artists, albums, _tracks = _by_id(lib)
    durations = sorted(t.duration for t in lib.tracks)
    assert durations[0] >= 90_000 and durations[-1] <= 720_000
    assert 190_000 <= durations[len(durations) // 2] <= 320_000
    file_re = re.compile(r"^/data/music/[^/]+/[^/]+/(CD\d+/)?\d{2} - [^/]+\.(flac|mp3|m4a|ogg|opus)$")
    assert len({t.file for t in lib.tracks}) == len(lib.tracks)
    for t in lib.tracks:
        assert file_re.match(t.file), t.file
        parts = t.file.split("/")[3:]
        assert not any(c in part for part in parts for c in '<>:"\\|?*'), t.file
        assert t.size >= t.bitrate * 125 * t.duration // 1000
        assert t.size <= t.bitrate * 125 * t.duration // 1000 + 2_000_000
        assert t.updated_at >= t.added_at >= albums[t.album].added_at
        assert t.updated_at <= NOW
    assert {t.audio_codec for t in lib.tracks} >= {"flac", "mp3", "aac"}
    for album in lib.albums:
        assert album.updated_at >= album.added_at
        if album.year is not None:
            assert 1960 <= album.year <= 2025
            assert album.originally_available_at and album.originally_available_at.startswith(str(album.year))
            released = datetime.fromisoformat(album.originally_available_at).replace(tzinfo=UTC).timestamp()
            assert album.added_at >= released - 86_400
            folder = f"({album.year})/"
        else:
            folder = ""
        if folder:
            assert all(folder in t.file for t in lib.tracks if t.album == album.id)


def test_tags_come_from_realistic_vocabularies(lib: Library) -> None:
    genres = {g for a in lib.albums for g in a.genres}
    styles = {s for a in lib.albums for s in a.styles}
    moods = {m for a in lib.albums for m in a.moods}
    assert len(genres) >= 15 and len(styles) >= 50 and len(moods) >= 40
    assert any(a.studio for a in lib.albums)


def test_popularity_is_heavy_tailed(lib: Library) -> None:
    counts = sorted(t.rating_count for t in lib.tracks if t.rating_count is not None)
    assert counts[-1] > 50 * counts[len(counts) // 2]


def test_sonic_vectors_are_unit_rounded_and_cluster_by_artist(lib: Library) -> None:
    analysed = [t for t in lib.tracks if t.sonic is not None]
    assert 0.8 <= len(analysed) / len(lib.tracks) <= 0.97
    for t in analysed:
        assert t.sonic is not None and len(t.sonic) == 16
        assert abs(math.sqrt(sum(x * x for x in t.sonic)) - 1) < 2e-3
        assert all(round(x, 4) == x for x in t.sonic)
    _artists, albums, _tracks = _by_id(lib)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    by_artist: dict[int, list[list[float]]] = {}
    for t in analysed:
        if not albums[t.album].compilation and t.sonic is not None:
            by_artist.setdefault(albums[t.album].artist, []).append(t.sonic)
    groups = [v for v in by_artist.values() if len(v) >= 2]
    same = [cos(v[0], v[1]) for v in groups]
    other = [cos(groups[i][0], groups[i + 1][0]) for i in range(len(groups) - 1)]
    assert sum(same) / len(same) > sum(other) / len(other) + 0.2


# --- accounts ----------------------------------------------------------------------------------------------


def test_accounts_and_tokens(lib: Library) -> None:
    admin = lib.accounts[0]
    assert admin.id == 1 and admin.name == "admin" and admin.tokens == [ADMIN_TOKEN]
    assert [a.name for a in lib.accounts] == ["admin", "alice", "bob"]
    assert lib.accounts[1].tokens == ["plexsim-alice-token"]
    tokens = [t for a in lib.accounts for t in a.tokens]
    assert len(set(tokens)) == len(tokens)
    assert len({a.id for a in lib.accounts}) == 3
    assert admin.history and max(len(a.history) for a in lib.accounts) == len(admin.history)


def test_ratings_are_realistic(lib: Library) -> None:
    artists, albums, tracks = _by_id(lib)
    admin = lib.accounts[0]
    track_ratings = [r for r in admin.ratings if r.key in tracks]
    assert 0.15 <= len(track_ratings) / len(lib.tracks) <= 0.25
    values = Counter(r.rating for r in track_ratings)
    assert any(v % 2 == 1 for v in values), "half stars"
    assert sum(r.rating for r in track_ratings) / len(track_ratings) > 5.5
    assert values[10.0] + values[8.0] > values[2.0] + values[4.0]
    for acc in lib.accounts:
        keys = [r.key for r in acc.ratings]
        assert len(set(keys)) == len(keys)
        assert any(k in albums for k in keys) and any(k in artists for k in keys)
        for r in acc.ratings:
            item = tracks.get(r.key) or albums.get(r.key) or artists[r.key]
            assert item.added_at <= r.rated_at <= NOW
            assert 1 <= r.rating <= 10


def test_play_states_match_history(lib: Library) -> None:
    _artists, _albums, tracks = _by_id(lib)
    three_years_ago = NOW - 3 * 365 * 86_400
    for acc in lib.accounts:
        counts = Counter(h.key for h in acc.history)
        last: dict[int, int] = {}
        for h in acc.history:
            last[h.key] = max(last.get(h.key, 0), h.viewed_at)
            assert three_years_ago <= h.viewed_at <= NOW
            assert h.viewed_at >= tracks[h.key].added_at
        states = {p.key: p for p in acc.plays}
        assert {k: p.view_count for k, p in states.items() if p.view_count} == dict(counts)
        assert all(states[k].last_viewed_at == v for k, v in last.items())
        assert all(p.last_viewed_at is None and p.skip_count > 0 for p in acc.plays if p.view_count == 0)
        assert [h.viewed_at for h in acc.history] == sorted(h.viewed_at for h in acc.history)


def test_history_has_whole_albums_in_order(lib: Library) -> None:
    _artists, _albums, tracks = _by_id(lib)
    history = lib.accounts[0].history
    runs = 0
    run = 1
    for prev, cur in itertools.pairwise(history):
        a, b = tracks[prev.key], tracks[cur.key]
        in_order = a.album == b.album and (b.disc, b.index) > (a.disc, a.index) and cur.viewed_at - prev.viewed_at < 900
        run = run + 1 if in_order else 1
        runs += run == 6
    assert runs >= 10


def test_history_follows_a_daily_rhythm(lib: Library) -> None:
    # Whatever the account's time zone, its quietest hours get far fewer plays than its busiest ones.
    for acc in lib.accounts:
        hours = Counter(datetime.fromtimestamp(h.viewed_at, UTC).hour for h in acc.history)
        busiest = max(hours[h] for h in range(24))
        quietest = min(hours[h] for h in range(24))
        assert quietest * 4 < busiest


def test_playlists_are_shaped_like_a_listeners(lib: Library) -> None:
    _artists, _albums, tracks = _by_id(lib)
    smart = [p for a in lib.accounts for p in a.playlists if p.smart]
    regular = [p for a in lib.accounts for p in a.playlists if not p.smart]
    assert smart and regular
    for p in regular:
        assert 10 <= len(p.items) <= 201
        assert all(k in tracks for k in p.items)
        assert len(set(p.items)) >= len(p.items) - 1
        assert p.added_at <= p.updated_at <= NOW
    assert sum(len(set(p.items)) == len(p.items) for p in regular) > 0.8 * len(regular)
    for p in smart:
        assert not p.items and p.query
        split = urlsplit(p.query)
        assert split.path == "/library/sections/3/all"
        assert ("type", "10") in parse_qsl(split.query)
    for acc in lib.accounts:
        titles = [p.title.casefold() for p in acc.playlists]
        assert len(set(titles)) == len(titles)


def test_smart_playlist_queries_parse_as_plex_searches(lib: Library) -> None:
    from plexsim import query

    pairs = [parse_qsl(urlsplit(p.query).query) for a in lib.accounts for p in a.playlists if p.query]
    try:
        parsed = [query.parse_search(params, libtype="track", now=NOW) for params in pairs]
    except NotImplementedError:
        pytest.skip("plexsim.query.parse_search is not implemented yet")
    assert all(q.libtype == "track" for q in parsed)


# --- the demo library --------------------------------------------------------------------------------------


def test_demo_file_is_in_sync_with_the_generator() -> None:
    shipped = Path(__file__).resolve().parents[2] / "src" / "plexsim" / "data" / "demo_library.json"
    assert shipped.read_text(encoding="utf-8") == demo_library_text(generate_demo_library()), (
        "the demo library drifted from the generator: run python -m plexsim.demo --write"
    )


def test_demo_library_loads_from_the_package() -> None:
    lib = demo_library()
    assert library_to_dict(lib) == library_to_dict(generate_demo_library())
    assert 400 <= len(lib.tracks) == DEMO_ARGUMENTS["tracks"] <= 800
    assert DEMO_ADMIN_TOKEN in lib.accounts[0].tokens and lib.accounts[0].id == 1
    assert any(a.compilation for a in lib.albums)
    assert demo_library() is not lib, "every call returns an independent library"
    assert len(demo_library_text(lib).encode("utf-8")) < 1_000_000


def test_demo_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo.json"
    assert main(["--check", "--path", str(target)]) == 1
    assert main(["--write", "--path", str(target)]) == 0
    assert main(["--check", "--path", str(target)]) == 0
    assert load_library(target).tracks == demo_library().tracks
    target.write_text(target.read_text(encoding="utf-8").replace("Various Artists", "Various"), encoding="utf-8")
    assert main(["--check", "--path", str(target)]) == 1
    assert "out of date" in capsys.readouterr().err


# --- the documentation -------------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "plexsim-library.md"


def test_documented_example_is_a_valid_library() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```json\n(\{\n.*?)\n```", text, re.S)
    assert block, "the complete example is missing"
    lib = library_from_dict(json.loads(block.group(1)))
    assert [t.title for t in lib.tracks] == ["Glósóli", "Hold Me Closer (feat. Nina Hart)"]


def test_every_generator_argument_and_dataclass_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in inspect.signature(generate_library).parameters:
        assert f"| `{name}` |" in text, name
    for cls in (ServerInfo, Section, Artist, Album, Track, Account, Rating, PlayState, HistoryEntry, Playlist):
        for name in cls.__dataclass_fields__:
            assert f"`{name}`" in text, f"{cls.__name__}.{name}"

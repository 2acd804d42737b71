"""The matching ladder on small hand-made catalogs: each rung, and every case that must go to review."""

from __future__ import annotations

import itertools

from plexm8.core.matcher import (
    SUGGEST_AFTER,
    CatalogTrack,
    MatchCatalog,
    match_tracks,
    memory_key,
    suggest_path_mappings,
)
from plexm8.core.matching import MatchMethod, PathMapping
from plexm8.core.sources import SourceTrack

_ordinals = itertools.count(1)


def plex(
    key: int,
    title: str,
    artist: str = "The Pilots",
    album: str = "Florence",
    *,
    number: int = 1,
    disc: int = 1,
    duration: int = 200_000,
    track_artist: str | None = None,
    path: str | None = None,
) -> CatalogTrack:
    file = path or f"/data/music/{artist}/{album}/{number:02d} - {title}.flac"
    return CatalogTrack(key, title, artist, track_artist, album, disc, number, duration, (file,))


def src(
    title: str | None,
    artist: str | None = "The Pilots",
    album: str | None = "Florence",
    *,
    number: int | None = 1,
    duration: int | None = 200_300,
    location: str | None = None,
    source_id: str | None = None,
    album_artist: str | None = None,
) -> SourceTrack:
    return SourceTrack(
        ordinal=next(_ordinals),
        source_id=source_id,
        location=location,
        title=title,
        artist=artist,
        album_artist=album_artist,
        album=album,
        track_number=number,
        duration_ms=duration,
    )


def only_match(outcome_sources: list[SourceTrack], catalog: MatchCatalog, **options: object) -> tuple[int, str]:
    outcome = match_tracks(outcome_sources, catalog, path_mappings=[], **options)  # type: ignore[arg-type]
    assert len(outcome.matched) == 1, (outcome.review, outcome.unmatched)
    return outcome.matched[0].rating_key, outcome.matched[0].method.value


def test_path_through_a_mapping_with_backslashes_and_case() -> None:
    catalog = MatchCatalog([plex(1, "Island", path="/data/music/The Pilots/Florence/01 - Island.flac")])
    source = src("Island", location="c:\\Users\\Me\\MUSIC\\the pilots\\Florence\\01 - Island.flac")
    outcome = match_tracks([source], catalog, path_mappings=[PathMapping("C:/Users/me/Music", "/data/music")])
    [match] = outcome.matched
    assert (match.rating_key, match.method, match.confidence) == (1, MatchMethod.PATH, 0.99)
    assert "letter case" in match.reason


def test_case_is_not_folded_for_a_case_sensitive_source() -> None:
    catalog = MatchCatalog([plex(1, "Island", path="/data/music/The Pilots/Florence/01 - Island.flac")])
    source = src("Island", album="Other", number=None, duration=None,
                 location="/home/me/music/the pilots/Florence/01 - Island.flac")  # fmt: skip
    outcome = match_tracks([source], catalog, path_mappings=[PathMapping("/home/me/music", "/data/music")])
    assert outcome.matched == []  # nor by path: Linux paths differing in case are different files


def test_nfd_locations_match_nfc_plex_paths() -> None:
    catalog = MatchCatalog(
        [plex(1, "Weiß", "Die Brücken", "Träume", path="/data/music/Die Brücken/Träume/01 - Weiß.flac")]
    )
    nfd = "/Users/me/Music/Die Bru\u0308cken/Tra\u0308ume/01 - Weiß.flac"
    source = src(None, location=nfd)
    outcome = match_tracks([source], catalog, path_mappings=[PathMapping("/Users/me/Music", "/data/music")])
    assert [m.rating_key for m in outcome.matched] == [1]


def test_a_path_to_a_track_with_other_title_and_artist_is_reviewed() -> None:
    catalog = MatchCatalog([plex(1, "Island", path="/data/music/x.flac")])
    source = src("Completely Else", "Somebody", location="/data/music/x.flac")
    outcome = match_tracks([source], catalog, path_mappings=[])
    assert outcome.matched == []
    assert "title and artist differ" in outcome.review[0].reason


def test_mappings_are_suggested_from_agreeing_paths() -> None:
    titles = ["Island", "Station", "Orchard", "Velvet", "Canyon"]
    catalog = MatchCatalog([plex(i, t, number=i) for i, t in enumerate(titles, 1)])
    sources = [
        src(t, number=i, location=f"D:/Rips/Music/The Pilots/Florence/{i:02d} - {t}.flac")
        for i, t in enumerate(titles, 1)
    ]
    outcome = match_tracks(sources, catalog)
    assert outcome.suggested_mappings
    assert outcome.path_mappings == [PathMapping("D:/Rips/Music", "/data/music")]
    assert {m.method for m in outcome.matched} == {MatchMethod.PATH}
    assert suggest_path_mappings(sources[:1], catalog) == []  # one agreeing file is not evidence enough


def test_metadata_variants_match_strictly() -> None:
    catalog = MatchCatalog(
        [
            plex(1, "Dreaming across the Lighthouse [feat. Miles Foster]", "Radio, Gravity & Engine", "Hold the Night"),
            plex(2, "Feuer und Heimweh - Remastered 2016", "Die Brücken", "Träume - Remastered", number=3),
            plex(3, "Orchard", "The Pilots", "Florence", number=6),
        ]
    )
    sources = [
        src("Dreaming Across The Lighthouse", "Radio, Gravity and Engine feat. Miles Foster", "Hold the Night"),
        src("Feuer und Heimweh (2016 Remaster)", "Die Bru\u0308cken", "Träume [Remastered]", number=3),
        src("ORCHARD", "Pilots", "Florence", number=6, duration=198_000),
    ]
    outcome = match_tracks(sources, catalog, path_mappings=[])
    assert [(m.rating_key, m.method) for m in outcome.matched] == [
        (1, MatchMethod.METADATA),
        (2, MatchMethod.METADATA),
        (3, MatchMethod.METADATA),
    ]
    assert all(0.9 <= m.confidence < 1.0 and m.reason.startswith("metadata") for m in outcome.matched)


def test_live_and_studio_never_match_each_other() -> None:
    catalog = MatchCatalog([plex(1, "Frühling - Live", "Die Brücken", "Alive in Lisbon")])
    outcome = match_tracks([src("Frühling", "Die Brücken", "Alive in Lisbon")], catalog, path_mappings=[])
    assert outcome.matched == []


def test_album_beats_compilation_and_remaster() -> None:
    catalog = MatchCatalog(
        [
            plex(1, "Island", "James Hart", "Broken Brothers", number=1),
            plex(2, "Island", "Various Artists", "Pop Classics", number=6, track_artist="James Hart"),
            plex(3, "Island", "James Hart", "Broken Brothers (Remastered 2011)", number=1),
        ]
    )
    assert only_match([src("Island", "James Hart", "Broken Brothers")], catalog) == (1, "metadata")
    compilation = src("Island", "James Hart", "Pop Classics", number=6, album_artist="Various Artists")
    assert only_match([compilation], catalog) == (2, "metadata")
    assert only_match([src("Island", "James Hart", "Broken Brothers (2011 Remaster)")], catalog) == (3, "metadata")


def test_the_same_song_on_another_album_only_is_reviewed() -> None:
    catalog = MatchCatalog([plex(2, "Island", "Various Artists", "Pop Classics", number=6, track_artist="James Hart")])
    outcome = match_tracks([src("Island", "James Hart", "Broken Brothers")], catalog, path_mappings=[])
    assert outcome.matched == []
    [item] = outcome.review
    assert item.candidates == (2,) and "only" in item.reason


def test_duplicates_in_plex_go_to_review() -> None:
    catalog = MatchCatalog(
        [plex(1, "Island"), plex(2, "Island", path="/data/music/The Pilots/Florence/01 - Island (1).flac")]
    )
    outcome = match_tracks([src("Island")], catalog, path_mappings=[])
    assert outcome.matched == []
    [item] = outcome.review
    assert set(item.candidates) == {1, 2} and "match equally" in item.reason


def test_duration_and_track_number_rule_out() -> None:
    catalog = MatchCatalog([plex(1, "Island", number=4, duration=200_000)])
    assert match_tracks([src("Island", number=5)], catalog, path_mappings=[]).matched == []
    assert match_tracks([src("Island", number=4, duration=210_000)], catalog, path_mappings=[]).matched == []
    assert only_match([src("Island", number=None, duration=202_500)], catalog) == (1, "metadata")


def test_no_album_and_no_duration_is_not_enough() -> None:
    catalog = MatchCatalog([plex(1, "Island")])
    outcome = match_tracks([src("Island", album=None, duration=None, number=None)], catalog, path_mappings=[])
    assert outcome.matched == []


def test_fuzzy_accepts_a_typo_only_when_clearly_best() -> None:
    catalog = MatchCatalog([plex(1, "Young Cathedral", "June Kowalski", "Dancing across the Storm", number=3)])
    [match] = match_tracks(
        [src("Young Cahtedral", "June Kowalski", "Dancing across the Storm", number=3, duration=201_000)],
        catalog,
        path_mappings=[],
    ).matched
    assert match.method is MatchMethod.FUZZY and match.confidence >= 0.93 and "title" in match.reason
    weak = match_tracks(
        [src("Young Cathedrals Forever", "June Kowalski", "Dancing across the Storm", number=3, duration=201_000)],
        catalog,
        path_mappings=[],
    )
    assert weak.matched == []
    assert weak.review and weak.review[0].confidences[0] < 0.93


def test_two_sources_on_one_plex_track_are_both_reviewed() -> None:
    catalog = MatchCatalog([plex(1, "Island")])
    a = src("Island", location="/data/music/The Pilots/Florence/01 - Island.flac")
    b = src("Island")
    outcome = match_tracks([a, b], catalog, path_mappings=[])
    assert outcome.matched == []
    assert [r.source for r in outcome.review] == [a, b]
    assert all("2 source tracks matched Plex track 1" in r.reason for r in outcome.review)


def test_remembered_first_and_only_while_the_track_exists() -> None:
    catalog = MatchCatalog([plex(1, "Island"), plex(2, "Station", number=2)])
    moved = src("Renamed Beyond Recognition", "X", "Y", source_id="ABCDEF0123456789")
    key = memory_key(moved)
    assert key == "id:ABCDEF0123456789"
    [match] = match_tracks([moved], catalog, path_mappings=[], remembered={key: 2}).matched
    assert (match.rating_key, match.method) == (2, MatchMethod.REMEMBERED)
    gone = match_tracks([moved], catalog, path_mappings=[], remembered={key: 99})
    assert gone.matched == [] and gone.unmatched == [moved]


def test_memory_key_by_location_folds_case_where_the_source_does() -> None:
    assert memory_key(src("a", location="C:\\Music\\A.mp3")) == "path:c:/music/a.mp3"
    assert memory_key(src("a", location="/home/me/A.mp3")) == "path:/home/me/A.mp3"
    assert memory_key(src("a")) is None


def test_nothing_to_go_on_is_unmatched() -> None:
    catalog = MatchCatalog([plex(1, "Island")])
    nothing = src(None, None, None)
    outcome = match_tracks([nothing, src("Unknown Song", "Unknown Band")], catalog, path_mappings=[])
    assert outcome.matched == [] and outcome.review == [] and len(outcome.unmatched) == 2


def test_the_first_lookup_of_each_lazy_index_finds_what_it_asks_for() -> None:
    """The folded-path and file-name indexes are built on their first call; that call must answer its own question.

    (Both once answered the first call with the last file of the library: the build loop reused the argument's
    name. A sync whose first case-differing path came early matched it to nothing.)
    """
    tracks = [plex(k, f"Song {k}", number=k) for k in range(1, 4)]
    first = tracks[0].paths[0]
    catalog = MatchCatalog(tracks)
    assert catalog.by_folded_path(first.casefold()) == [0]
    catalog = MatchCatalog(tracks)
    assert catalog.by_file_name(first.rpartition("/")[2].casefold()) == [(0, first)]
    catalog = MatchCatalog(tracks)
    catalog.build_lookups()
    assert catalog.by_folded_path(first.upper().casefold()) == [0]
    assert catalog.by_stem("song 2") == [1]
    assert catalog.by_artist("pilots") == [0, 1, 2]


def test_a_second_folder_further_down_the_export_is_mapped_and_matched_by_path() -> None:
    # The mappings suggested from the first SUGGEST_AFTER tracks lack the second folder: the whole source is matched
    # again through the mappings suggested from all of it.
    first, more = SUGGEST_AFTER, 900
    tracks, sources = [], []
    for i in range(first + more):
        title, artist = f"Song {i}", f"Artist {i // 10}"
        plex_root, source_root = ("/data/music", "C:/Music") if i < first else ("/data/more", "E:/More")
        tail = f"{artist}/Album/{i % 10 + 1:02d} - {title}.flac"
        tracks.append(plex(i + 1, title, artist, "Album", number=i % 10 + 1, path=f"{plex_root}/{tail}"))
        sources.append(src(title, artist, "Album", number=i % 10 + 1, location=f"{source_root}/{tail}"))
    catalog = MatchCatalog(tracks)
    assert suggest_path_mappings(sources[:first], catalog) == [PathMapping("C:/Music", "/data/music")]
    outcome = match_tracks(sources, catalog)
    assert outcome.path_mappings == [PathMapping("C:/Music", "/data/music"), PathMapping("E:/More", "/data/more")]
    assert len(outcome.matched) == first + more
    assert {m.method for m in outcome.matched} == {MatchMethod.PATH}
    assert [m.rating_key for m in outcome.matched] == list(range(1, first + more + 1))
    assert outcome.review == [] and outcome.unmatched == []

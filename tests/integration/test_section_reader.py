"""The bulk section reader against plexsim over real HTTP: JSON and XML, paging, filters, accounts and errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import astuple, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from plexm8.core.catalog import AlbumRecord, ChangeKind, ItemKind, TrackRecord
from plexm8.errors import PlexAuthError, PlexError, PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=240, seed=11)


def admin(plex: RunningServer, **options: object) -> PlexSectionReader:
    return PlexSectionReader(plex.url, plex.admin_token, **options)  # type: ignore[arg-type]


def all_tracks(reader: PlexSectionReader) -> list[TrackRecord]:
    return [r for page in reader.read_items(ItemKind.TRACK) for r in page.records if isinstance(r, TrackRecord)]


def test_full_track_listing_matches_the_library(plex: RunningServer, library: Library) -> None:
    reader = admin(plex, page_size=100)
    tracks = {t.rating_key: t for t in all_tracks(reader)}
    assert set(tracks) == {t.id for t in library.tracks}
    albums = {a.id: a for a in library.albums}
    artists = {a.id: a for a in library.artists}
    for source in library.tracks:
        got = tracks[source.id]
        album = albums[source.album]
        assert got.title == source.title
        assert got.album_key == album.id and got.album_title == album.title
        assert got.artist_key == album.artist and got.artist_title == artists[album.artist].title
        assert got.track_artist == source.original_title
        assert (got.disc_number, got.track_number) == (source.disc, source.index)
        assert got.duration_ms == source.duration
        assert got.year == album.year
        assert got.file_paths == (source.file,)
        assert got.added_at == source.added_at
    # 240 tracks in pages of 100: three listing requests after the section lookup.
    assert reader.requests_made == 4


def test_albums_and_artists_match_the_library(plex: RunningServer, library: Library) -> None:
    reader = admin(plex)
    albums = {r.rating_key: r for page in reader.read_items(ItemKind.ALBUM) for r in page.records}
    artists = {r.rating_key: r for page in reader.read_items(ItemKind.ARTIST) for r in page.records}
    assert set(albums) == {a.id for a in library.albums}
    assert set(artists) == {a.id for a in library.artists}
    for source in library.albums:
        got = albums[source.id]
        assert isinstance(got, AlbumRecord)
        assert (got.title, got.year, got.artist_key, got.studio) == (
            source.title,
            source.year,
            source.artist,
            source.studio,
        )
    for source_artist in library.artists:
        assert artists[source_artist.id].title == source_artist.title


def test_xml_fallback_reads_the_same_records(plex: RunningServer) -> None:
    from_json = all_tracks(admin(plex, page_size=70))
    from_xml = all_tracks(admin(plex, page_size=70, json=False))
    assert from_xml == from_json
    xml_states = [s for page in admin(plex, json=False).read_items(ItemKind.TRACK) for s in page.states]
    json_states = [s for page in admin(plex).read_items(ItemKind.TRACK) for s in page.states]
    assert xml_states == json_states


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
def test_rows_carry_what_records_do(plex: RunningServer, json: bool) -> None:
    account = plex.state.accounts[1]
    plex.state.rate(account, next(iter(plex.state.tracks)), 6.0)
    for kind in ItemKind:
        pages = list(admin(plex, page_size=70, json=json).read_items(kind))
        rows = list(admin(plex, page_size=70, json=json).read_rows(kind))
        records = [r for page in pages for r in page.records]
        states = [s for page in pages for s in page.states]
        assert [page.total for page in rows] == [page.total for page in pages]
        bare = [f for f in fields(records[0]) if f.name not in ("genres", "styles", "moods", "file_paths")]
        assert [row for page in rows for row in page.items] == [
            tuple(getattr(r, f.name) for f in bare) for r in records
        ]
        tags = {(row[0], row[1]): [] for page in rows for row in page.tags}  # type: dict[tuple[int, str], list[str]]
        for page in rows:
            for key, tag_kind, position, tag in page.tags:
                assert position == len(tags[key, tag_kind])
                tags[key, tag_kind].append(tag)
        for record in records:
            for tag_kind, values in (("genre", record.genres), ("style", record.styles), ("mood", record.moods)):
                assert tuple(tags.get((record.rating_key, tag_kind), ())) == values
        files = [(key, path) for page in rows for key, _, path in page.files]
        assert files == [(r.rating_key, p) for r in records if isinstance(r, TrackRecord) for p in r.file_paths]
        default = (None, None, 0, None, 0)
        assert [s for page in rows for s in page.states] == [astuple(s) for s in states if astuple(s)[1:] != default]
        assert max(page.updated_at for page in rows) == max(r.updated_at or 0 for r in records)
        assert max(page.last_rated_at for page in rows) == max(s.last_rated_at or 0 for s in states)
        assert max(page.last_viewed_at for page in rows) == max(s.last_viewed_at or 0 for s in states)


def test_rows_of_several_kinds_come_in_turn_with_every_first_page_asked_for_at_once(plex: RunningServer) -> None:
    kinds = (ItemKind.ARTIST, ItemKind.ALBUM, ItemKind.TRACK)
    apart = [rows for kind in kinds for rows in admin(plex, page_size=70).read_rows(kind)]
    before = len(plex.knobs.log)
    pages = admin(plex, page_size=70).read_rows(*kinds)
    first = next(pages)
    assert first.kind is ItemKind.ARTIST

    def first_pages_asked() -> set[str]:
        log = plex.knobs.log[before:]
        listed = [r.query for r in log if r.path.endswith("/all") and "X-Plex-Container-Start=0&" in r.query]
        return {kind.name for kind in kinds if any(f"type={kind.value}&" in query for query in listed)}

    # The album and track listings were asked for before the artists' page was consumed (bounded wait: the
    # requests run in threads).
    deadline = time.monotonic() + 10
    while first_pages_asked() != {kind.name for kind in kinds} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first_pages_asked() == {kind.name for kind in kinds}
    together = [first, *pages]
    assert [(rows.kind, rows.items, rows.files, rows.states) for rows in together] == [
        (rows.kind, rows.items, rows.files, rows.states) for rows in apart
    ]
    assert [rows.kind for rows in together].count(ItemKind.TRACK) == -(-240 // 70)


def test_downloaded_history_decodes_to_the_same_plays(plex: RunningServer) -> None:
    reader = admin(plex, page_size=50)
    plays = [astuple(p) for page in reader.read_history() for p in page]
    assert len(plays) > 100
    downloads = list(admin(plex, page_size=50).download_history())
    assert len(downloads) == -(-len(plays) // 50)
    assert [row for page in downloads for row in page()] == plays
    later = plays[len(plays) // 2][2]
    recent = [row for page in admin(plex, page_size=50).download_history(viewed_after=later) for row in page()]
    # `viewedAt>=` on the wire (plexapi's "viewedAt>" filter key with its "=")
    assert recent == [p for p in plays if p[2] >= later]


def test_states_are_those_of_the_token_owner(plex: RunningServer, library: Library) -> None:
    track_ids = {t.id for t in library.tracks}
    for account in library.accounts[:2]:
        reader = PlexSectionReader(plex.url, account.tokens[0])
        states = {s.rating_key: s for page in reader.read_items(ItemKind.TRACK) for s in page.states}
        expected = {r.key: r.rating for r in account.ratings if r.key in track_ids}
        assert {k: s.user_rating for k, s in states.items() if s.user_rating is not None} == expected
        plays = {p.key: p.view_count for p in account.plays if p.key in track_ids and p.view_count}
        assert {k: s.view_count for k, s in states.items() if s.view_count} == plays


def test_counts_and_key_ranges(plex: RunningServer, library: Library) -> None:
    reader = admin(plex)
    keys = sorted(t.id for t in library.tracks)
    assert reader.count(ItemKind.TRACK) == len(keys)
    low, high = keys[10], keys[50]
    assert reader.count(ItemKind.TRACK, key_above=low, key_below=high) == 39
    assert sorted(reader.read_keys(ItemKind.TRACK, key_above=low, key_below=high)) == keys[11:50]
    rated = {r.key for r in library.accounts[0].ratings} & set(keys)
    assert reader.count(ItemKind.TRACK, rated=True) == len(rated)
    assert {s.rating_key for s in reader.read_rated_states()} == rated


def test_since_filters_return_only_what_changed(plex: RunningServer, library: Library) -> None:
    reader = admin(plex)
    account = plex.state.accounts[1]
    now = plex.state.now()
    target = library.tracks[3].id
    plex.state.rate(account, target, 6.0)
    pages = list(reader.read_items(ItemKind.TRACK, since=(ChangeKind.RATED, now - 1)))
    assert [s.rating_key for page in pages for s in page.states] == [target]
    assert pages[0].states[0].user_rating == 6.0
    newest_update = max(t.updated_at for t in library.tracks)
    later = list(reader.read_items(ItemKind.TRACK, since=(ChangeKind.UPDATED, newest_update)))
    assert [r for page in later for r in page.records] == []


def test_playlists_and_history(plex: RunningServer, library: Library) -> None:
    reader = admin(plex)
    owner = library.accounts[0]
    playlists = reader.read_playlists()
    assert {p.rating_key for p in playlists} == {p.id for p in owner.playlists}
    regular = next(p for p in owner.playlists if not p.smart)
    items = reader.read_playlist_items(regular.id)
    assert [i.rating_key for i in items] == regular.items
    assert all(i.playlist_item_id is not None for i in items)
    plays = [p for page in reader.read_history() for p in page]
    # The admin sees every account's plays, each tagged with its listener.
    assert len(plays) == sum(len(a.history) for a in library.accounts)
    assert {p.plex_account_id for p in plays} == {a.id for a in library.accounts if a.history}


def test_refused_token_is_an_auth_error(plex: RunningServer) -> None:
    with pytest.raises(PlexAuthError, match="refused the token"):
        PlexSectionReader(plex.url, "not-a-token").section()


def test_server_errors_and_dropped_connections_are_unavailable(plex: RunningServer) -> None:
    reader = admin(plex)
    reader.section()
    plex.knobs.configure(fail_path="/library/sections/3/all")
    with pytest.raises(PlexUnavailable, match="HTTP 500"):
        list(reader.read_items(ItemKind.TRACK))
    plex.knobs.reset()
    plex.knobs.configure(drop_path="/playlists")
    with pytest.raises(PlexUnavailable, match="connection"):
        reader.read_playlists()


def test_unreachable_server_is_unavailable() -> None:
    with start_server(generate_library(tracks=5, seed=1)) as server:
        url = server.url
    with pytest.raises(PlexUnavailable, match="cannot connect"):
        PlexSectionReader(url, "token", timeout=2).section()


def test_missing_section_is_a_plex_error(plex: RunningServer) -> None:
    with pytest.raises(PlexError, match="no music section 99"):
        admin(plex, section_id=99).section()


class _Canned(BaseHTTPRequestHandler):
    """Answers every GET with the body and content type the test put on the server."""

    def do_GET(self) -> None:
        body, content_type = self.server.canned  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SECTIONS = b'{"MediaContainer":{"Directory":[{"key":"3","type":"artist","title":"Music","uuid":"u"}]}}'


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"MediaContainer": {"Metadata": [{"title": "no key"}]}}', "application/json", "ratingKey"),
        (b'{"MediaContainer": ', "application/json", "unexpected listing"),
        (b"<html><body>proxy login</body></html>", "text/html", "root element 'html'"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><MediaContainer size="1">&a;</MediaContainer>',
            "text/xml",
            "document type",
        ),
        (b'<MediaContainer size="1"><Track ratingKey="1">', "text/xml", "unreadable XML"),
    ],
)
def test_malformed_listings_are_clear_errors(
    canned: ThreadingHTTPServer, body: bytes, content_type: str, message: str
) -> None:
    url = f"http://127.0.0.1:{canned.server_address[1]}"
    canned.canned = (SECTIONS, "application/json")  # type: ignore[attr-defined]
    reader = PlexSectionReader(url, "token")
    assert reader.section().section_id == 3
    canned.canned = (body, content_type)  # type: ignore[attr-defined]
    with pytest.raises(PlexUnavailable, match="did not answer like Plex") as caught:
        list(reader.read_items(ItemKind.TRACK))
    assert message in str(caught.value)
    assert "token" not in str(caught.value).replace("refused the token", "")


def test_changed_items_in_one_query_or_the_timestamps(plex: RunningServer, library: Library) -> None:
    reader = admin(plex)
    newest_update = max(t.updated_at for t in library.tracks)
    newest_view = max(p.last_viewed_at or 0 for a in library.accounts if a.id == 1 for p in a.plays)
    rated, played = library.tracks[3].id, library.tracks[7].id
    plex.state.rate(plex.state.accounts[1], rated, 4.0, rated_at=plex.state.now())
    plex.state.record_play(plex.state.accounts[1], played, viewed_at=newest_view + 10)
    since = [(ChangeKind.UPDATED, newest_update), (ChangeKind.RATED, plex.state.now() - 5)]
    since.append((ChangeKind.VIEWED, newest_view))
    before = reader.requests_made
    pages = list(reader.read_changed(ItemKind.TRACK, since))
    assert reader.requests_made - before == 1 + 1  # the section lookup, then one listing ORing all three filters
    states = {s.rating_key: s for page in pages for s in page.states}
    assert set(states) == {rated, played}
    assert states[rated].user_rating == 4.0 and states[played].last_viewed_at == newest_view + 10
    # One filter alone is the plain form of the same query.
    only_rated = [s.rating_key for page in reader.read_changed(ItemKind.TRACK, since[1:2]) for s in page.states]
    assert only_rated == [rated]
    assert list(reader.read_changed(ItemKind.TRACK, [])) == []


def test_history_pages_follow_new_plays(plex: RunningServer, library: Library) -> None:
    reader = admin(plex, page_size=50)
    first = [p for page in reader.read_history() for p in page]
    viewed = [p.viewed_at for p in first]
    assert viewed == sorted(viewed, reverse=True)
    assert len({p.history_id for p in first}) == len(first) == sum(len(a.history) for a in library.accounts)
    # A play recorded in between must show up in the next read (the server's cached order follows the history).
    track = library.tracks[0].id
    plex.state.record_play(plex.state.accounts[1], track, viewed_at=viewed[-1] + 1)
    again = [p for page in reader.read_history() for p in page]
    assert len(again) == len(first) + 1
    newest = max(again, key=lambda p: p.history_id)
    assert (newest.rating_key, newest.viewed_at) == (track, viewed[-1] + 1)
    middle = viewed[len(viewed) // 2]
    # The reader asks for viewedAt>=, one second of overlap the index build dedupes by history id.
    after = [p for page in reader.read_history(viewed_after=middle) for p in page]
    assert after and all(p.viewed_at >= middle for p in after)
    assert len(after) == sum(1 for p in again if p.viewed_at >= middle)

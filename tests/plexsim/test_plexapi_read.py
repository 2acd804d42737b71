"""python-plexapi reads plexsim as it reads a real Plex Media Server: connect, browse, search, fetch, history."""

from __future__ import annotations

import datetime as dt

import pytest
from builders import ADMIN_TOKEN, ALICE_TOKEN, MACHINE_ID, NOW
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from plexsim.server import RunningServer

#: Attributes a client reads on every listed track; none of them may make plexapi reload the item.
STANDARD_TRACK_ATTRS = (
    "ratingKey", "key", "guid", "title", "titleSort", "index", "parentIndex", "duration", "addedAt", "updatedAt",
    "parentTitle", "grandparentTitle", "parentRatingKey", "grandparentRatingKey", "parentKey", "grandparentKey",
    "parentGuid", "grandparentGuid", "parentThumb", "grandparentThumb", "thumb", "art", "summary", "type",
    "librarySectionID", "ratingCount", "viewCount", "musicAnalysisVersion",
)  # fmt: skip


def test_connect_reads_server_identity(plex: PlexServer, sim: RunningServer) -> None:
    assert plex.machineIdentifier == MACHINE_ID
    assert plex.friendlyName == "plexsim-test"
    assert plex.version == sim.state.server.version
    assert plex.identity().machineIdentifier == MACHINE_ID
    assert plex.myPlex is True


def test_sections(plex: PlexServer) -> None:
    (section,) = plex.library.sections()
    assert section.key == 3
    assert section.type == "artist"
    assert section.title == "Music"
    assert section.locations == ["/data/music"]
    assert section.totalViewSize(libtype="track") == 14
    assert section.totalViewSize(libtype="album") == 4
    assert section.totalViewSize(libtype="artist") == 3


def test_shared_user_reaches_sections_without_library_root(alice: PlexServer, sim: RunningServer) -> None:
    assert alice.library.section("Music").key == 3
    # /library is owner-only: plexapi tried it, got refused and fell back to /library/sections/.
    assert [r.status for r in sim.knobs.log if r.path == "/library"] == [401]


def test_search_tracks_with_filters_and_sort(plex: PlexServer) -> None:
    music = plex.library.section("Music")
    rated = music.searchTracks(filters={"userRating>>": 6}, sort="userRating:desc")
    assert [(t.title, t.userRating) for t in rated] == [("Hunter", 10.0), ("Jóga", 8.0)]
    by_artist = music.searchTracks(filters={"artist.title": "zephyr"}, sort="titleSort")
    assert [t.title for t in by_artist] == ["Disc One Closer", "Disc One Opener", "Disc Two Closer", "Disc Two Opener"]
    long_unplayed = music.searchTracks(filters={"duration>>": 500_000, "viewCount": 0})
    assert {t.title for t in long_unplayed} == {"So What", "Flamenco"}
    either = music.searchTracks(filters={"or": [{"userRating>>": 9}, {"title==": "Freddie"}]})
    assert {t.title for t in either} == {"Hunter", "Freddie"}


def test_search_paging_returns_everything_once(plex: PlexServer, sim: RunningServer) -> None:
    music = plex.library.section("Music")
    tracks = music.searchTracks(container_size=4)
    assert len(tracks) == 14
    assert len({t.ratingKey for t in tracks}) == 14
    pages = [r for r in sim.knobs.log if r.path == "/library/sections/3/all" and "type=10" in r.query]
    assert len(pages) >= 4  # 4 + 4 + 4 + 2
    # The default order is the section's "Album Artist" sort: artist, album, disc, track.
    zephyrs = [t.title for t in tracks if t.grandparentTitle == "The Zephyrs"]
    assert zephyrs == ["Disc One Opener", "Disc One Closer", "Disc Two Opener", "Disc Two Closer"]


def test_search_max_results_and_artist_tag_filter(plex: PlexServer) -> None:
    music = plex.library.section("Music")
    assert len(music.searchTracks(maxresults=3)) == 3
    choices = {c.title for c in music.listFilterChoices("genre", libtype="artist")}
    assert choices == {"Electronic", "Rock", "Jazz"}
    assert [a.title for a in music.searchArtists(filters={"genre": "Rock"})] == ["The Zephyrs"]


def test_fetch_items_by_many_keys(plex: PlexServer) -> None:
    keys = [112, 100, 105, 20, 10]
    items = plex.fetchItems(keys, container_size=2)
    assert [i.ratingKey for i in items] == keys
    assert [type(i).__name__ for i in items] == ["Track", "Track", "Track", "Album", "Artist"]
    single = plex.fetchItem(101)
    assert single.title == "Jóga"
    assert [m.tag for m in single.moods] == ["Eerie", "Tender"]


def test_reading_standard_attributes_of_listed_tracks_triggers_no_reload(plex: PlexServer, sim: RunningServer) -> None:
    tracks = plex.library.section("Music").searchTracks()
    before = len(sim.knobs.log)
    for track in tracks:
        for name in STANDARD_TRACK_ATTRS:
            if name == "musicAnalysisVersion" and track.ratingKey == 104:
                continue  # the one unanalysed track has none, so plexapi would (rightly) ask again
            assert getattr(track, name) is not None, name
        assert track.media[0].parts[0].file.startswith("/data/music/")
        assert track.media[0].audioCodec == "flac"
    assert len(sim.knobs.log) == before


def test_children_and_leaves(plex: PlexServer) -> None:
    album = plex.fetchItem(22)
    assert [(t.parentIndex, t.index) for t in album.tracks()] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert album.leafCount == 4
    artist = plex.fetchItem(10)
    assert {a.title for a in artist.albums()} == {"Homogenic", "Debut"}
    assert len(artist.tracks()) == 5
    assert album.track(track=2).title == "Disc One Closer"


def test_per_token_users_see_their_own_ratings(plex: PlexServer, alice: PlexServer) -> None:
    assert plex.fetchItem(100).userRating == 10.0
    assert alice.fetchItem(100).userRating == 2.0
    assert alice.fetchItem(101).userRating is None
    plex.fetchItem(101).rate(6.0)
    assert alice.fetchItem(101).userRating is None
    assert alice.library.section("Music").searchTracks(filters={"userRating>>": 0}) == [alice.fetchItem(100)]


def test_sonically_similar(plex: PlexServer) -> None:
    hunter = plex.fetchItem(100)
    similar = hunter.sonicallySimilar(limit=10, maxDistance=0.1)
    assert [t.title for t in similar] == ["Jóga", "Bachelorette", "Human Behaviour"]
    distances = [t.distance for t in similar]
    assert distances == sorted(distances)
    assert all(0 < d <= 0.1 for d in distances)
    assert 104 not in {t.ratingKey for t in hunter.sonicallySimilar(maxDistance=1.0)}  # never analysed
    assert plex.fetchItem(104).sonicallySimilar() == []
    assert hunter.hasSonicAnalysis is True


def test_sonically_similar_excludes_parent(sim: RunningServer) -> None:
    import requests

    response = requests.get(
        f"{sim.url}/library/metadata/100/nearest",
        params={"maxDistance": "0.5", "excludeParentID": "20"},
        headers={"X-Plex-Token": ADMIN_TOKEN},
        timeout=10,
    )
    assert response.status_code == 200
    assert 'ratingKey="103"' in response.text
    assert 'ratingKey="101"' not in response.text


def test_history_admin_sees_all_accounts(plex: PlexServer) -> None:
    rows = plex.history()
    assert [(h.ratingKey, h.accountID) for h in rows] == [(110, 2), (100, 1), (101, 1), (100, 1)]
    viewed = [h.viewedAt for h in rows]
    assert viewed == sorted(viewed, reverse=True)
    recent = plex.history(mindate=dt.datetime.fromtimestamp(NOW - 86_400 * 30))
    assert len(recent) == 3
    assert [h.ratingKey for h in plex.history(ratingKey=100)] == [100, 100]
    assert [h.ratingKey for h in plex.history(accountID=2)] == [110]
    assert len(plex.history(maxresults=2)) == 2


def test_history_users_see_only_their_own(alice: PlexServer) -> None:
    assert [(h.ratingKey, h.accountID) for h in alice.history()] == [(110, 2)]
    assert alice.history(accountID=1) == []


def test_accounts(plex: PlexServer) -> None:
    names = {a.id: a.name for a in plex.systemAccounts()}
    assert names == {0: "", 1: "admin", 2: "alice", 3: "bob"}


def test_unknown_ids_are_not_found(plex: PlexServer) -> None:
    with pytest.raises(NotFound):
        plex.fetchItem(999_999)
    with pytest.raises(NotFound):
        plex.fetchItems([999_998, 999_999])
    with pytest.raises(NotFound):
        plex.fetchItem("/playlists/424242")


def test_malformed_parameters_are_bad_requests(plex: PlexServer) -> None:
    with pytest.raises(BadRequest) as caught:
        plex.query("/library/metadata/abc")
    assert "(400)" in str(caught.value)
    with pytest.raises(BadRequest):
        plex.query("/:/rate?key=100&identifier=com.plexapp.plugins.library&rating=eleven", method=plex._session.put)
    with pytest.raises(BadRequest):
        plex.query("/:/rate?key=100&identifier=com.plexapp.plugins.library&rating=11", method=plex._session.put)
    with pytest.raises(BadRequest):
        plex.query("/library/sections/3/all?type=10&track.userRating%3E%3E=lots")


def test_bad_token_is_unauthorized(sim: RunningServer) -> None:
    with pytest.raises(Unauthorized):
        PlexServer(sim.url, "not-a-token", timeout=10)
    with pytest.raises(Unauthorized):
        PlexServer(sim.url, ALICE_TOKEN + "x", timeout=10)

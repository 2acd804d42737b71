"""python-plexapi changes plexsim's state as on a real server: ratings, batch edits, plays and playlists."""

from __future__ import annotations

import pytest
from plexapi.exceptions import BadRequest, NotFound
from plexapi.server import PlexServer

from plexsim.library import library_from_dict, library_to_dict
from plexsim.server import RunningServer


def test_rate_and_clear_on_track_album_and_artist(plex: PlexServer) -> None:
    for key in (102, 21, 11):
        item = plex.fetchItem(key)
        assert item.userRating is None
        item.rate(7.5)
        item.reload()
        assert item.userRating == 7.5
        assert item.lastRatedAt is not None
        item.rate()
        item.reload()
        assert item.userRating is None
        assert item.lastRatedAt is None


def test_rate_unknown_item_is_not_found(plex: PlexServer) -> None:
    with pytest.raises(NotFound):
        plex.query("/:/rate?key=4242&identifier=com.plexapp.plugins.library&rating=4", method=plex._session.put)


def test_batch_edit_user_rating_sets_and_locks(plex: PlexServer) -> None:
    music = plex.library.section("Music")
    tracks = plex.fetchItems([106, 107, 108])
    music.batchMultiEdits(tracks).editUserRating(8).saveMultiEdits()
    for track in plex.fetchItems([106, 107, 108]):
        assert track.userRating == 8.0
        assert track.lastRatedAt is not None
        assert track.isLocked("userRating")
    one = plex.fetchItem(106)
    one.editUserRating(4, locked=False)
    one.reload()
    assert one.userRating == 4.0
    assert not one.isLocked("userRating")
    assert plex.fetchItem(107).isLocked("userRating")


def test_scrobble_counts_a_play_and_unscrobble_clears_it(plex: PlexServer) -> None:
    track = plex.fetchItem(111)
    assert track.viewCount == 0
    track.markPlayed()
    track.reload()
    assert track.viewCount == 1
    assert track.lastViewedAt is not None
    assert plex.fetchItem(23).viewCount == 1  # the album counts the play too
    track.markUnplayed()
    track.reload()
    assert track.viewCount == 0
    assert track.lastViewedAt is None


def test_create_add_remove_move_rename_delete_playlist(plex: PlexServer) -> None:
    tracks = plex.fetchItems([100, 101, 102])
    playlist = plex.createPlaylist("Road trip", items=tracks)
    assert playlist.title == "Road trip"
    assert playlist.smart is False
    assert [t.ratingKey for t in playlist.items()] == [100, 101, 102]
    assert all(t.playlistItemID for t in playlist.items())

    playlist.addItems(plex.fetchItems([110, 111]))
    playlist.reload()
    assert [t.ratingKey for t in playlist.items()] == [100, 101, 102, 110, 111]
    assert playlist.leafCount == 5

    playlist.removeItems([plex.fetchItem(101)])
    playlist.reload()
    assert [t.ratingKey for t in playlist.items()] == [100, 102, 110, 111]

    items = playlist.items()
    playlist.moveItem(items[3], after=items[0])
    playlist.reload()
    assert [t.ratingKey for t in playlist.items()] == [100, 111, 102, 110]
    playlist.moveItem(playlist.items()[2])
    playlist.reload()
    assert [t.ratingKey for t in playlist.items()] == [102, 100, 111, 110]

    playlist.editTitle("Long road trip").editSummary("for the A9")
    playlist.reload()
    assert (playlist.title, playlist.summary) == ("Long road trip", "for the A9")
    assert plex.playlist("Long road trip").ratingKey == playlist.ratingKey

    playlist.delete()
    with pytest.raises(NotFound):
        plex.fetchItem(f"/playlists/{playlist.ratingKey}")
    assert "Long road trip" not in {p.title for p in plex.playlists()}


def test_clear_playlist(plex: PlexServer) -> None:
    playlist = plex.playlist("Favourites")
    plex.query(f"/playlists/{playlist.ratingKey}/items", method=plex._session.delete)
    playlist.reload()
    assert playlist.items() == []
    assert playlist.leafCount == 0


def test_playlists_are_per_account(plex: PlexServer, alice: PlexServer) -> None:
    assert {p.title for p in plex.playlists(playlistType="audio")} == {"Favourites", "Top rated"}
    assert plex.playlists(playlistType="video") == []
    assert alice.playlists() == []
    with pytest.raises(NotFound):
        alice.fetchItem(f"/playlists/{plex.playlist('Favourites').ratingKey}")


def test_smart_playlist_follows_ratings_live(plex: PlexServer) -> None:
    music = plex.library.section("Music")
    smart = plex.createPlaylist(
        "Loved", section=music, smart=True, filters={"userRating>>": 6}, sort="userRating:desc", limit=10
    )
    assert smart.smart is True
    assert [t.ratingKey for t in smart.items()] == [100, 101]
    assert all(t.playlistItemID is None for t in smart.items())
    assert smart.filters()["filters"] == {"track.userRating>>": "6"}

    plex.fetchItem(112).rate(9)
    smart.reload()
    assert [t.ratingKey for t in smart.items()] == [100, 112, 101]
    plex.fetchItem(100).rate()
    smart.reload()
    assert [t.ratingKey for t in smart.items()] == [112, 101]

    with pytest.raises(BadRequest):
        smart.addItems([plex.fetchItem(103)])  # plexapi refuses on its side, as the server would


def test_smart_playlist_rules_can_be_replaced(plex: PlexServer) -> None:
    smart = plex.playlist("Top rated")
    assert [t.ratingKey for t in smart.items()] == [100, 101]
    smart.updateFilters(filters={"userRating<<": 6, "userRating>>": 0})
    smart.reload()
    assert [t.ratingKey for t in smart.items()] == [105]


def test_state_round_trips_through_the_library_format(plex: PlexServer, sim: RunningServer) -> None:
    plex.fetchItem(109).rate(3)
    plex.createPlaylist("Kept", items=plex.fetchItems([109, 110]))
    library = library_from_dict(library_to_dict(sim.state.to_library()))
    admin = next(a for a in library.accounts if a.id == 1)
    assert any(r.key == 109 and r.rating == 3.0 for r in admin.ratings)
    assert any(p.title == "Kept" and p.items == [109, 110] for p in admin.playlists)

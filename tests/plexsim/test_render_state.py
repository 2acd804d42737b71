"""Units under the HTTP layer: the two renderers and the state's mutations and invariants."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from builders import small_library

from plexsim.library import library_from_dict, library_to_dict
from plexsim.nodes import Node
from plexsim.render import render_json, render_xml, split_json, split_xml, xml_attrs
from plexsim.state import InvalidRequest, ServerState, UnknownItem


def test_xml_declaration_first_and_escaping() -> None:
    root = Node("MediaContainer", {"size": 1, "flag": True, "off": False, "rating": 7.5, "gone": None}, [
        Node("Track", {"title": 'a "quoted" <b> & \x07bell\nline', "index": 3}),
    ])  # fmt: skip
    body = render_xml(root)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer')
    parsed = ET.fromstring(body)
    assert parsed.attrib == {"size": "1", "flag": "1", "off": "0", "rating": "7.5"}
    assert parsed[0].get("title") == 'a "quoted" <b> & bell\nline'


def test_json_groups_children_like_plex() -> None:
    root = Node("MediaContainer", {"size": 3}, [
        Node("Directory", {"ratingKey": "1", "type": "album", "title": "A"}, [Node("Genre", {"tag": "Rock"})]),
        Node("Track", {"ratingKey": "2", "type": "track", "userRating": 10.0, "smart": False}),
        Node("Directory", {"key": "3", "type": "artist", "title": "Music"}),
        Node("Meta", {}, [Node("Type", {"type": "track"})]),
    ])  # fmt: skip
    doc = json.loads(render_json(root))["MediaContainer"]
    assert [m["ratingKey"] for m in doc["Metadata"]] == ["1", "2"]
    assert doc["Metadata"][0]["Genre"] == [{"tag": "Rock"}]
    assert doc["Metadata"][1]["userRating"] == 10.0 and doc["Metadata"][1]["smart"] is False
    assert doc["Directory"] == [{"key": "3", "type": "artist", "title": "Music"}]
    assert doc["Meta"] == {"Type": [{"type": "track"}]}


def test_split_fragments_splice_to_the_full_element() -> None:
    before, after = {"ratingKey": "5", "title": "T"}, {"duration": 100}
    children = [Node("Media", {"id": 5})]
    user = {"userRating": 8.0, "viewCount": 2}
    xml = split_xml("Track", before, after, children)
    whole = render_xml(Node("Track", {**before, **user, **after}, children))
    assert whole.endswith(xml.head + xml_attrs(user).encode() + xml.tail)
    js = split_json(before, after, children)
    spliced = js.head + b',"userRating":8.0,"viewCount":2' + js.tail
    assert json.loads(spliced) == json.loads(render_json(Node("Track", {**before, **user, **after}, children)))["Track"]


def test_state_indexes() -> None:
    state = ServerState(small_library())
    assert [t.id for t in state.album_tracks[22]] == [105, 106, 107, 108]
    assert state.absolute_index[107] == 3
    assert state.tag_ids["genre"]["Electronic"] != state.tag_ids["genre"]["Rock"]
    assert state.account_for_token("alice-token") is state.accounts[2]
    assert state.account_for_token("nobody") is None


def test_state_mutations_bump_the_version_and_validate() -> None:
    state = ServerState(small_library(), clock=lambda: 1_800_000_000)
    admin = state.accounts[1]
    version = state.version
    state.rate(admin, 102, 6)
    assert admin.ratings[102].rating == 6.0 and admin.ratings[102].rated_at == 1_800_000_000
    assert state.version == version + 1
    with pytest.raises(InvalidRequest):
        state.rate(admin, 102, 12)
    with pytest.raises(InvalidRequest):
        state.rate(admin, 102, 5, rated_at=1_900_000_000)  # in the future
    with pytest.raises(UnknownItem):
        state.rate(admin, 4242, 5)
    state.record_play(admin, 103, viewed_at=1_799_999_000)
    assert admin.plays[103].view_count == 1 and state.history[-1].key == 103
    playlist = state.create_playlist(admin, "P", keys=[21])  # an album expands to its tracks
    assert [key for _, key in playlist.items] == [103, 104]
    with pytest.raises(UnknownItem):
        state.move_in_playlist(admin, playlist.id, playlist.items[0][0], after=987654)
    assert [key for _, key in playlist.items] == [103, 104]  # a refused move changes nothing
    assert playlist.id not in state.artists and playlist.id > max(state.tracks)


def test_to_library_is_a_valid_library_file() -> None:
    state = ServerState(small_library())
    state.edit_user_rating(state.accounts[3], [100, 101], value=6, locked=True)
    library = library_from_dict(library_to_dict(state.to_library()))
    bob = next(a for a in library.accounts if a.id == 3)
    assert sorted((r.key, r.rating) for r in bob.ratings) == [(100, 6.0), (101, 6.0)]
    assert len(library.tracks) == 14

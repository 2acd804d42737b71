"""plexsim answers like the real Plex servers we have captures of.

For every real response saved under ``../shared/reference/plex/`` (read in place, never copied into the repo), the
simulator's answer to the same request must have the same element structure (which kinds of element nest in which)
and at least the same attribute names for each kind of object. Values are not compared: they are another server's
data. Skips cleanly when ``../shared`` is absent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from plexsim.generate import generate_library
from plexsim.server import RunningServer, start_server

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "plex"

#: Tags whose ``type`` attribute names the kind of object (a track, an album...); elsewhere ``type`` is data.
_TYPED_TAGS = {"Directory", "Track", "Playlist", "Hub", "Type", "Metadata"}


def _kind(el: ET.Element) -> str:
    kind_type = el.get("type")
    return f"{el.tag}/{kind_type}" if el.tag in _TYPED_TAGS and kind_type else el.tag


@dataclass
class Shape:
    """Attribute names seen per kind, and which kinds nest directly in which."""

    attrs: dict[str, set[str]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)


def _shape(root: ET.Element, *, skip_kinds: frozenset[str] = frozenset()) -> Shape:
    shape = Shape()

    def walk(el: ET.Element, parent: str | None) -> None:
        kind = _kind(el)
        if kind in skip_kinds or el.get("playlistType") == "video":
            return
        shape.attrs.setdefault(kind, set()).update(el.attrib)
        if parent is not None:
            shape.edges.add((parent, kind))
        for child in el:
            walk(child, kind)

    walk(root, None)
    return shape


@dataclass(frozen=True)
class Case:
    capture: str
    method: str
    path: str  # formatted with the ids picked from the simulated library
    #: Home Assistant's fixtures flatten Track>Media>Part>Stream into siblings; their nesting is not evidence.
    flattened: bool = False
    #: Kinds in the capture that a music-only server does not have (video sections), skipped with the reason.
    skip_kinds: frozenset[str] = frozenset()


CASES = [
    Case("home-assistant/server_root__GET_slash.xml", "GET", "/"),
    Case("home-assistant/accounts__GET.xml", "GET", "/accounts"),
    Case("home-assistant/hubs__GET_excerpt.xml", "GET", "/hubs"),
    Case(
        "home-assistant/library_sections__GET.xml",
        "GET",
        "/library/sections",
        skip_kinds=frozenset({"Directory/movie", "Directory/show"}),
    ),
    Case(
        "home-assistant/library_sections_music_all_includeMeta__GET.xml",
        "GET",
        "/library/sections/{section}/all?includeMeta=1&includeAdvanced=1&X-Plex-Container-Start=0&X-Plex-Container-Size=0",
    ),
    Case(
        "home-assistant/library_sections_music_all_size0__GET.xml",
        "GET",
        "/library/sections/{section}/all?includeCollections=0&X-Plex-Container-Start=0&X-Plex-Container-Size=0",
    ),
    Case("home-assistant/library_sections_music_sorts__GET.xml", "GET", "/library/sections/{section}/sorts"),
    Case("home-assistant/library_metadata_album__GET.xml", "GET", "/library/metadata/{album}"),
    Case("home-assistant/library_metadata_artist_children__GET.xml", "GET", "/library/metadata/{artist}/children"),
    Case(
        "home-assistant/library_metadata_artist_allLeaves__GET.xml",
        "GET",
        "/library/metadata/{artist}/allLeaves",
        flattened=True,
    ),
    Case("home-assistant/library_metadata_track__GET.xml", "GET", "/library/metadata/{track}", flattened=True),
    Case("home-assistant/playlists__GET.xml", "GET", "/playlists"),
    Case("home-assistant/security_token__GET.xml", "GET", "/security/token?type=delegation&scope=all"),
    Case(
        "zh-music-client-doc/library_sections_music_all_type10__GET.xml",
        "GET",
        "/library/sections/{section}/all?type=10",
    ),
    Case(
        "zh-music-client-doc/library_sections_music_all_type9_albums__GET.xml",
        "GET",
        "/library/sections/{section}/all?type=9",
    ),
    Case(
        "zh-music-client-doc/library_sections_music_all_type8_artists__GET.xml",
        "GET",
        "/library/sections/{section}/all?type=8",
    ),
    Case(
        "zh-music-client-doc/library_sections_genre_filterchoices__GET.xml", "GET", "/library/sections/{section}/genre"
    ),
    Case("zh-music-client-doc/library_metadata_track_detail__GET.xml", "GET", "/library/metadata/{track}"),
    Case(
        "zh-music-client-doc/library_metadata_artist_detail_related_stations__GET.xml",
        "GET",
        "/library/metadata/{artist}?includeStations=1&includePopularLeaves=1&includeRelated=1&includeExtras=1"
        "&includePreferences=1",
    ),
    Case("zh-music-client-doc/playlists_audio__GET.xml", "GET", "/playlists?playlistType=audio"),
    Case("zh-music-client-doc/playlists_items_audio__GET.xml", "GET", "/playlists/{playlist}/items"),
    Case(
        "zh-music-client-doc/playlists_create__POST.xml",
        "POST",
        "/playlists?type=audio&title=Conformance&smart=0&uri=server%3A%2F%2F{mid}%2Fcom.plexapp.plugins.library"
        "%2Flibrary%2Fmetadata%2F{track}",
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    if not CAPTURES.is_dir():
        pytest.skip("../shared/reference/plex is not present")
    with start_server(generate_library(tracks=300, seed=11)) as running:
        yield running


@pytest.fixture(scope="module")
def ids(server: RunningServer) -> dict[str, str]:
    """Pick a played, rated track (so optional attributes appear), its album and artist, and a played playlist."""
    lib = server.state.to_library()
    token = lib.accounts[0].tokens[0]
    session = requests.Session()
    session.headers["X-Plex-Token"] = token
    albums = {a.id: a for a in lib.albums}
    # The real captures show a track with every optional attribute set (a track artist other than the album
    # artist, a popularity count, a label on its album), so pick one like that.
    track = next(t for t in lib.tracks if t.original_title and t.rating_count is not None and albums[t.album].studio)
    album = albums[track.album]
    plex = server.url
    for path in (
        f"/:/rate?key={track.id}&identifier=com.plexapp.plugins.library&rating=8",
        f"/:/scrobble?key={track.id}&identifier=com.plexapp.plugins.library",
    ):
        session.request("PUT" if "rate" in path else "GET", plex + path).raise_for_status()
    created = session.post(
        plex + "/playlists",
        params={
            "type": "audio",
            "title": "Picked",
            "smart": "0",
            "uri": f"server://{lib.server.machine_identifier}/com.plexapp.plugins.library/library/metadata/{track.id}",
        },
    )
    created.raise_for_status()
    playlist = ET.fromstring(created.content).find("Playlist")
    assert playlist is not None
    session.get(
        plex + "/:/scrobble",
        params={"key": playlist.get("ratingKey"), "identifier": "com.plexapp.plugins.library"},
    ).raise_for_status()
    return {
        "token": token,
        "section": str(lib.section.id),
        "track": str(track.id),
        "album": str(album.id),
        "artist": str(album.artist),
        "playlist": str(playlist.get("ratingKey")),
        "mid": lib.server.machine_identifier,
    }


@pytest.mark.parametrize("case", CASES, ids=[c.capture.split("/")[-1] for c in CASES])
def test_simulator_matches_capture(case: Case, server: RunningServer, ids: dict[str, str]) -> None:
    real = _shape(ET.parse(CAPTURES / case.capture).getroot(), skip_kinds=case.skip_kinds)
    response = requests.request(
        case.method,
        server.url + case.path.format(**ids),
        headers={"X-Plex-Token": ids["token"], "Accept": "*/*"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text[:200]
    assert response.headers["Content-Type"].startswith("text/xml")
    sim = _shape(ET.fromstring(response.content))

    missing_kinds = sorted(set(real.attrs) - set(sim.attrs))
    assert not missing_kinds, f"kinds of element the real server sends that plexsim does not: {missing_kinds}"
    missing_attrs = {
        kind: sorted(names - sim.attrs[kind]) for kind, names in real.attrs.items() if names - sim.attrs[kind]
    }
    assert not missing_attrs, f"attribute names the real server sends that plexsim does not: {missing_attrs}"
    if not case.flattened:
        missing_edges = sorted(real.edges - sim.edges)
        assert not missing_edges, f"nesting the real server has that plexsim does not: {missing_edges}"


def test_every_capture_has_a_case() -> None:
    """A capture added to ../shared must get a case here, so nothing real goes unchecked."""
    if not CAPTURES.is_dir():
        pytest.skip("../shared/reference/plex is not present")
    on_disk = {str(p.relative_to(CAPTURES)) for p in CAPTURES.glob("*/*.xml")}
    assert on_disk == {c.capture for c in CASES}

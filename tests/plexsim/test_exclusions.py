"""plexsim leaves off what ``excludeFields`` / ``excludeElements`` name, unless a knob makes it ignore them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from builders import ADMIN_TOKEN
from plexapi.server import PlexServer

from plexsim.demo import DEMO_ADMIN_TOKEN, demo_library
from plexsim.server import RunningServer, start_server


def get(
    sim: RunningServer, path: str, *, json_form: bool, token: str = ADMIN_TOKEN, **params: str
) -> requests.Response:
    accept = "application/json" if json_form else "*/*"
    response = requests.get(
        sim.url + path, params=params, headers={"X-Plex-Token": token, "Accept": accept}, timeout=10
    )
    assert response.status_code == 200
    return response


def items(response: requests.Response, json_form: bool) -> list[dict[str, Any]]:
    """Each item as its attributes plus ``$children``: the child element names, in order."""
    if json_form:
        found: list[dict[str, Any]] = response.json()["MediaContainer"]["Metadata"]
        return [
            {
                **{k: str(v) for k, v in item.items() if not isinstance(v, list)},
                "$children": [k for k, v in item.items() if isinstance(v, list) for _ in v],
                "$tags": {k: v for k, v in item.items() if isinstance(v, list)},
            }
            for item in found
        ]
    out = []
    for element in ET.fromstring(response.content):
        tags: dict[str, list[dict[str, str]]] = {}
        for child in element:
            tags.setdefault(child.tag, []).append(dict(child.attrib))
        out.append({**element.attrib, "$children": [child.tag for child in element], "$tags": tags})
    return out


@pytest.mark.parametrize("json_form", [True, False], ids=["json", "xml"])
def test_detail_leaves_off_excluded_fields_and_elements(sim: RunningServer, json_form: bool) -> None:
    full = items(get(sim, "/library/metadata/10,20", json_form=json_form), json_form)
    assert {"title", "addedAt", "summary"} <= set(full[0]) and "Genre" in full[0]["$children"]
    lean = items(
        get(
            sim,
            "/library/metadata/10,20",
            json_form=json_form,
            excludeFields="title,addedAt,summary,key,id,filter",
            excludeElements="Genre,Guid,Location,Country",
        ),
        json_form,
    )
    assert [item["ratingKey"] for item in lean] == [item["ratingKey"] for item in full]
    for before, after in zip(full, lean, strict=True):
        assert not {"title", "addedAt", "summary", "key"} & set(after)
        # An item keeps its type: JSON files artists and albums under Metadata by it.
        assert after["type"] == before["type"]
        assert set(after["$children"]) == set(before["$children"]) - {"Genre", "Guid", "Location", "Country"}
        # The kept tag elements lose the excluded attributes (here all but the name).
        for kind in ("Style", "Mood"):
            assert after["$tags"].get(kind, []) == [{"tag": t["tag"]} for t in before["$tags"].get(kind, [])]
    assert any(item["$tags"].get("Style") for item in lean) and any(item["$tags"].get("Mood") for item in lean)


@pytest.mark.parametrize("json_form", [True, False], ids=["json", "xml"])
def test_listings_leave_off_excluded_fields_and_elements(sim: RunningServer, json_form: bool) -> None:
    full = items(get(sim, "/library/sections/3/all", json_form=json_form, type="10"), json_form)
    lean = items(
        get(
            sim,
            "/library/sections/3/all",
            json_form=json_form,
            type="10",
            excludeFields="title,userRating,lastRatedAt",
            excludeElements="Media",
        ),
        json_form,
    )
    assert any("userRating" in item for item in full)
    assert [item["ratingKey"] for item in lean] == [item["ratingKey"] for item in full]
    for before, after in zip(full, lean, strict=True):
        assert set(after) == set(before) - {"title", "userRating", "lastRatedAt"}
        assert "Media" not in after["$children"]


def test_a_knob_makes_the_server_ignore_exclusions(sim: RunningServer) -> None:
    params = {"excludeFields": "title", "excludeElements": "Genre"}
    trimmed = get(sim, "/library/metadata/10", json_form=True, **params).content
    sim.knobs.configure(ignore_exclusions=True)
    ignored = get(sim, "/library/metadata/10", json_form=True, **params).content
    assert ignored == get(sim, "/library/metadata/10", json_form=True).content != trimmed
    history = get(sim, "/status/sessions/history/all", json_form=True, excludeFields="title").json()
    assert all("title" in row for row in history["MediaContainer"]["Metadata"])
    sim.knobs.reset()
    assert get(sim, "/library/metadata/10", json_form=True, **params).content == trimmed
    # Over the control surface too.
    url = sim.url + "/__plexsim/knobs"
    assert requests.post(url, params={"ignore_exclusions": "1"}, headers={"X-Plex-Token": ADMIN_TOKEN}, timeout=10).ok
    assert sim.knobs.ignore_exclusions
    assert json.loads(get(sim, "/library/metadata/10", json_form=True, **params).content) == json.loads(ignored)


def test_plexapi_still_reads_items_in_full(plex: PlexServer, sim: RunningServer) -> None:
    # The trimmed renderings are cached apart from the full ones: a trimmed request first changes nothing after it.
    get(sim, "/library/sections/3/all", json_form=False, type="8", excludeFields="title", excludeElements="Genre")
    artist = plex.library.section("Music").get("Björk")
    assert artist.title == "Björk" and [g.tag for g in artist.genres]
    assert [s.tag for s in artist.styles] == ["Trip Hop"] and [m.tag for m in artist.moods] == ["Quirky"]


def test_demo_artists_and_albums_have_styles_and_moods_in_detail() -> None:
    library = demo_library()
    with start_server(library) as sim:
        keys = [a.id for a in library.artists] + [a.id for a in library.albums]
        got: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            chunk = ",".join(map(str, keys[start : start + 100]))
            got += items(get(sim, f"/library/metadata/{chunk}", json_form=True, token=DEMO_ADMIN_TOKEN), True)
    assert len(got) == len(keys) > 50
    with_both = [item for item in got if item["$tags"].get("Style") and item["$tags"].get("Mood")]
    # Every artist and album has both, bar the "Various Artists" compilation artist, if any.
    assert len(with_both) >= len(keys) - 1

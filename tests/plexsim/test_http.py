"""plexsim's HTTP surface: the JSON form, paging, auth, error pages and the knobs, checked with raw requests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from builders import ADMIN_TOKEN, ALICE_TOKEN
from plexapi.exceptions import BadRequest, Unauthorized
from plexapi.server import PlexServer

from plexsim.server import RunningServer


def get(sim: RunningServer, path: str, *, token: str | None = ADMIN_TOKEN, json_form: bool = False,
        headers: dict[str, str] | None = None, **params: str) -> requests.Response:  # fmt: skip
    sent = {"Accept": "application/json" if json_form else "*/*", **(headers or {})}
    if token is not None:
        sent["X-Plex-Token"] = token
    return requests.get(sim.url + path, params=params, headers=sent, timeout=10)


def _xml_items(response: requests.Response) -> list[ET.Element]:
    return list(ET.fromstring(response.content))


def _same(xml_value: str, json_value: Any) -> bool:
    if isinstance(json_value, str):
        # XML 1.0 cannot carry C0 controls other than tab/LF/CR, so the XML form drops them; JSON keeps them.
        return xml_value == re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", json_value)
    if isinstance(json_value, bool):
        return xml_value == ("1" if json_value else "0")
    if isinstance(json_value, float):
        return float(xml_value) == json_value
    return xml_value == str(json_value)


def _assert_same_element(element: ET.Element, obj: dict[str, Any]) -> None:
    scalars = {k: v for k, v in obj.items() if not isinstance(v, (list, dict))}
    assert set(element.attrib) == set(scalars), element.tag
    for name, value in scalars.items():
        assert _same(element.attrib[name], value), (name, element.attrib[name], value)
    for child in element:
        group = obj[_json_key(child)]
        siblings = [c for c in element if _json_key(c) == _json_key(child)]
        _assert_same_element(child, group[siblings.index(child)])


def _json_key(element: ET.Element) -> str:
    """Where Plex's JSON lists a child: library items under Metadata, everything else under its tag."""
    if element.tag in ("Track", "Playlist") or (element.tag == "Directory" and element.get("ratingKey")):
        return "Metadata"
    return element.tag


@pytest.mark.parametrize(
    ("path", "params", "key"),
    [
        ("/library/sections/3/all", {"type": "10", "includeGuids": "1"}, "Metadata"),
        ("/library/sections/3/all", {"type": "9"}, "Metadata"),
        ("/library/metadata/100,20,10", {}, "Metadata"),
        ("/library/sections", {}, "Directory"),
        ("/library/sections/3/genre", {"type": "8"}, "Directory"),
        ("/playlists", {}, "Metadata"),
        ("/playlists/500/items", {}, "Metadata"),
        ("/status/sessions/history/all", {}, "Metadata"),
        ("/hubs", {}, "Hub"),
    ],
)
def test_json_form_carries_the_same_data_as_xml(
    sim: RunningServer, path: str, params: dict[str, str], key: str
) -> None:
    xml_response = get(sim, path, **params)
    json_response = get(sim, path, json_form=True, **params)
    assert xml_response.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert json_response.headers["Content-Type"] == "application/json"
    root = ET.fromstring(xml_response.content)
    container = json_response.json()["MediaContainer"]
    assert {k for k, v in container.items() if not isinstance(v, (list, dict))} == set(root.attrib)
    items = container.get(key, [])
    assert len(items) == len(root) > 0
    for element, obj in zip(root, items, strict=True):
        _assert_same_element(element, obj)


def test_json_shapes_follow_plex(sim: RunningServer) -> None:
    track = get(sim, "/library/metadata/101", json_form=True).json()["MediaContainer"]["Metadata"][0]
    assert track["ratingKey"] == "101"
    assert track["userRating"] == 8.0
    assert track["duration"] == 305_000
    assert track["Media"][0]["Part"][0]["accessible"] is True
    assert [m["tag"] for m in track["Mood"]] == ["Eerie", "Tender"]
    meta = get(sim, "/library/sections/3/all", json_form=True, includeMeta="1", **{"X-Plex-Container-Size": "0"})
    container = meta.json()["MediaContainer"]
    assert isinstance(container["Meta"], dict)
    assert {t["type"] for t in container["Meta"]["Type"]} >= {"artist", "album", "track"}
    assert container["size"] == 0


def test_paging_by_headers_or_query_parameters(sim: RunningServer) -> None:
    by_header = get(sim, "/library/sections/3/all", type="10",
                    headers={"X-Plex-Container-Start": "4", "X-Plex-Container-Size": "3"})  # fmt: skip
    by_query = get(sim, "/library/sections/3/all", type="10",
                   **{"X-Plex-Container-Start": "4", "X-Plex-Container-Size": "3"})  # fmt: skip
    for response in (by_header, by_query):
        root = ET.fromstring(response.content)
        assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("3", "14", "4")
        assert response.headers["X-Plex-Container-Start"] == "4"
        assert response.headers["X-Plex-Container-Total-Size"] == "14"
    assert by_header.content == by_query.content
    everything = _xml_items(get(sim, "/library/sections/3/all", type="10"))
    assert [e.get("ratingKey") for e in _xml_items(by_header)] == [e.get("ratingKey") for e in everything[4:7]]


def test_size_zero_counts(sim: RunningServer) -> None:
    response = get(sim, "/library/sections/3/all", type="9", includeCollections="1",
                   **{"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"})  # fmt: skip
    root = ET.fromstring(response.content)
    assert (root.get("size"), root.get("totalSize"), len(root)) == ("0", "4", 0)


def test_limit_caps_the_total(sim: RunningServer) -> None:
    root = ET.fromstring(get(sim, "/library/sections/3/all", type="10", limit="5").content)
    assert (root.get("size"), root.get("totalSize")) == ("5", "5")


def test_xml_is_well_formed_with_hostile_titles(sim: RunningServer) -> None:
    response = get(sim, "/library/metadata/109")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    track = ET.fromstring(response.content)[0]
    assert track.get("title") == "Tab\tandcontrol"  # the C0 control is not representable in XML 1.0
    assert track.get("grandparentTitle") == "Ace & <Bros>"
    assert track.get("parentTitle") == "Live at the Café"


def test_token_in_query_and_identity_without_token(sim: RunningServer) -> None:
    assert get(sim, "/", token=None, **{"X-Plex-Token": ADMIN_TOKEN}).status_code == 200
    identity = get(sim, "/identity", token=None)
    assert identity.status_code == 200
    assert ET.fromstring(identity.content).get("machineIdentifier") == sim.state.server.machine_identifier


@pytest.mark.parametrize(
    ("path", "token", "status", "title"),
    [
        ("/library/sections", None, 401, "Unauthorized"),
        ("/library/sections", "wrong", 401, "Unauthorized"),
        ("/library/metadata/999999", ADMIN_TOKEN, 404, "Not Found"),
        ("/library/metadata/12x", ADMIN_TOKEN, 400, "Bad Request"),
        ("/library/sections/9/all", ADMIN_TOKEN, 404, "Not Found"),
        ("/library/sections/x/all", ADMIN_TOKEN, 400, "Bad Request"),
        ("/library/sections/3/all?type=1", ADMIN_TOKEN, 400, "Bad Request"),
        ("/no/such/endpoint", ADMIN_TOKEN, 404, "Not Found"),
        ("/accounts", ALICE_TOKEN, 401, "Unauthorized"),
    ],
)
def test_error_pages(sim: RunningServer, path: str, token: str | None, status: int, title: str) -> None:
    response = get(sim, path, token=token)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == f"<html><head><title>{title}</title></head><body><h1>{status} {title}</h1></body></html>"


def test_request_log_and_counters(plex: PlexServer, sim: RunningServer) -> None:
    sim.knobs.clear_log()
    plex.fetchItem(100).rate(5)
    plex.fetchItem(101)
    assert sim.knobs.count("/:/rate", method="PUT") == 1
    assert sim.knobs.count("/library/metadata/", prefix=True) == 2
    assert sim.knobs.counters()["GET /library/metadata/100"] == 1
    rate = next(r for r in sim.knobs.log if r.path == "/:/rate")
    assert (rate.status, rate.account_id) == (200, 1)
    assert "rating=5" in rate.query


def test_fault_500_on_a_path(plex: PlexServer, sim: RunningServer) -> None:
    sim.knobs.configure(fail_path=r"^/library/metadata/10[01]$")
    with pytest.raises(BadRequest) as caught:
        plex.fetchItem(100)
    assert "(500)" in str(caught.value)
    assert plex.fetchItem(102).title == "Bachelorette"
    sim.knobs.reset()
    assert plex.fetchItem(100).title == "Hunter"


def test_fault_500_at_a_rate(sim: RunningServer) -> None:
    sim.knobs.configure(fail_rate=1.0)
    assert get(sim, "/library/sections").status_code == 500
    sim.knobs.configure(fail_rate=0.0)
    assert get(sim, "/library/sections").status_code == 200


def test_unauthorized_after_n_requests(plex: PlexServer, sim: RunningServer) -> None:
    sim.knobs.configure(unauthorized_after=2)
    plex.fetchItem(100)
    plex.fetchItem(101)
    with pytest.raises(Unauthorized):
        plex.fetchItem(102)
    assert [r.status for r in sim.knobs.log[-3:]] == [200, 200, 401]


def test_dropped_connection(sim: RunningServer) -> None:
    sim.knobs.configure(drop_path=r"^/library/sections$")
    with pytest.raises(requests.ConnectionError):
        get(sim, "/library/sections")
    assert sim.knobs.log[-1].status is None
    assert get(sim, "/identity").status_code == 200


def test_latency_is_added_to_every_request(sim: RunningServer) -> None:
    # Observed as behaviour, not timed: with 3 s of latency on every path, a client that waits 0.2 s gives up.
    sim.knobs.configure(latency_ms=3000)
    for path in ("/identity", "/library/sections"):
        with pytest.raises(requests.Timeout):
            requests.get(sim.url + path, headers={"X-Plex-Token": ADMIN_TOKEN}, timeout=0.2)
    sim.knobs.configure(latency_ms=0)
    assert get(sim, "/identity").status_code == 200


def test_slow_responses_time_the_client_out(sim: RunningServer) -> None:
    sim.knobs.configure(slow_path=r"^/library/sections$", slow_ms=3000)
    with pytest.raises(requests.Timeout):
        requests.get(sim.url + "/library/sections", headers={"X-Plex-Token": ADMIN_TOKEN}, timeout=0.2)
    assert get(sim, "/identity").status_code == 200


def test_control_surface_over_http(sim: RunningServer) -> None:
    url = sim.url + "/__plexsim/knobs"
    assert requests.post(url, params={"fail_path": "^/hubs$"}, headers={"X-Plex-Token": ALICE_TOKEN},
                         timeout=10).status_code == 401  # fmt: skip
    assert requests.post(url, params={"fail_path": "^/hubs$"}, headers={"X-Plex-Token": ADMIN_TOKEN},
                         timeout=10).status_code == 200  # fmt: skip
    assert get(sim, "/hubs").status_code == 500
    log = requests.get(sim.url + "/__plexsim/log", headers={"X-Plex-Token": ADMIN_TOKEN}, timeout=10).json()
    assert log[-1] == {"method": "GET", "path": "/hubs", "query": "", "status": 500, "account_id": None}
    assert requests.post(sim.url + "/__plexsim/reset", headers={"X-Plex-Token": ADMIN_TOKEN}, timeout=10).ok
    assert get(sim, "/hubs").status_code == 200
    assert requests.post(url, params={"nonsense": "1"}, headers={"X-Plex-Token": ADMIN_TOKEN},
                         timeout=10).status_code == 400  # fmt: skip


def test_transient_token_acts_for_its_account(sim: RunningServer) -> None:
    token = ET.fromstring(get(sim, "/security/token", token=ALICE_TOKEN, type="delegation", scope="all").content)
    transient = token.get("token")
    assert transient is not None and transient.startswith("transient-")
    track = ET.fromstring(get(sim, "/library/metadata/100", token=transient).content)[0]
    assert track.get("userRating") == "2.0"  # alice's rating, not the admin's

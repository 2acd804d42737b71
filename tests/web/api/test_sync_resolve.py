"""Settling review items of a sync plan through the API: a real iTunes export whose duplicated Plex tracks send
some tracks to review, the real matcher, services and SQLite, plexsim over HTTP; what the next apply writes is read
from plexsim's request log."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services
from plexsim.exports import HardCaseSet, Perturbations, build_hard_case_set, write_itunes_xml
from plexsim.generate import ADMIN_TOKEN, account_token, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

from .conftest import body, error, rate_writes

DEADLINE_S = 30.0
ALICE = account_token("alice", 2)
#: Every file moved (metadata must match) and a tenth of the tracks duplicated in Plex: those go to review.
DUPLICATED = dataclasses.replace(
    Perturbations(**{f.name: 0 for f in dataclasses.fields(Perturbations)}), moved=1.0, plex_duplicates=0.1
)


@pytest.fixture
def hard_cases() -> HardCaseSet:
    return build_hard_case_set(generate_library(tracks=120, seed=5), perturbations=DUPLICATED, seed=3)


@pytest.fixture
def plex_library(hard_cases: HardCaseSet) -> Library:
    return hard_cases.library


@pytest.fixture
def import_dir(tmp_path: Path, hard_cases: HardCaseSet) -> Path:
    """SYNC_IMPORT_DIR holding Library.xml, which rates every exported track 1-5 stars in turn."""
    folder = tmp_path / "exports"
    folder.mkdir()
    tracks = [dataclasses.replace(t, rating=(n % 5 + 1) * 20) for n, t in enumerate(hard_cases.tracks)]
    write_itunes_xml(tracks, folder / "Library.xml")
    return folder


@pytest.fixture
def plex_environ(import_dir: Path) -> dict[str, str]:
    return {"INDEX_REFRESH_INTERVAL": "0", "SYNC_IMPORT_DIR": str(import_dir)}


def admin_ratings(sim: RunningServer) -> dict[int, float]:
    with sim.state.lock:
        (account,) = [a for a in sim.state.accounts.values() if ADMIN_TOKEN in a.tokens]
        return {key: info.rating for key, info in account.ratings.items()}


def plan(client: FlaskClient, services: Services, *, token: str | None = None, dry_run: bool = True) -> dict[str, Any]:
    """Sync Library.xml (a dry run unless told) and return the job's result (the run summary)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = body(
        client.post(
            "/api/ratings/sync", json={"source": "itunes", "file": "Library.xml", "dry_run": dry_run}, headers=headers
        ),
        202,
    )
    record = services.jobs.wait(started["id"], timeout=DEADLINE_S)
    assert record.state.value == "succeeded", (record.error_code, record.error_message)
    assert record.result is not None
    return dict(record.result)


def items(client: FlaskClient, run: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
    query = f"?limit=1000&status={status}" if status else "?limit=1000"
    found: list[dict[str, Any]] = body(client.get(f"{run['items_url']}{query}"), 200)["items"]
    return found


def key_of(track_key: str) -> int:
    return int(track_key.rsplit("/", 1)[1])


def resolve(client: FlaskClient, run: dict[str, Any], position: int, payload: object, **kwargs: Any) -> Any:
    return client.post(f"{run['url']}/items/{position}/resolve", json=payload, **kwargs)


def writable_choice(review: list[dict[str, Any]], rated: dict[int, float]) -> tuple[dict[str, Any], int]:
    """A review item and one of its candidates unrated in Plex (so the fill policy writes it)."""
    for item in review:
        for candidate in map(key_of, item["candidates"]):
            if candidate not in rated:
                return item, candidate
    raise AssertionError("no review item has an unrated candidate")


def test_a_chosen_track_is_written_by_the_next_apply_and_a_dismissed_item_never(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    run = plan(client, services)
    review = items(client, run, "review")
    assert run["review"] == len(review) >= 2
    planned_writes = {key_of(item["track_key"]) for item in items(client, run, "write")}
    chosen_item, chosen = writable_choice(review, admin_ratings(sim))
    dismissed_item = next(item for item in review if item["position"] != chosen_item["position"])

    settled = body(resolve(client, run, chosen_item["position"], {"rating_key": chosen}), 200)

    item = settled["item"]
    assert (item["kind"], item["action"], item["status"]) == ("matched", "write", "planned")
    assert item["track_key"] == f"/library/metadata/{chosen}" and item["method"] == "remembered"
    assert item["confidence"] == 1.0 and item["reason"].startswith("chosen by you from 2 candidates")
    assert item["target"] == item["source_rating"] and item["plex_rating"] is None
    assert settled["remembered"] is True
    summary = settled["run"]
    assert (summary["review"], summary["to_write"], summary["matched"]) == (
        run["review"] - 1,
        run["to_write"] + 1,
        run["matched"] + 1,
    )

    gone = body(resolve(client, run, dismissed_item["position"], {"dismiss": True}), 200)
    assert (gone["item"]["kind"], gone["item"]["action"], gone["item"]["status"]) == ("review", "dismissed", None)
    assert gone["item"]["reason"].startswith("dismissed by you; ") and gone["remembered"] is False
    assert (gone["run"]["review"], gone["run"]["dismissed"]) == (run["review"] - 2, 1)
    # The items endpoint (and its filters) show both settlements.
    assert [i["position"] for i in items(client, run, "dismissed")] == [dismissed_item["position"]]
    assert body(client.get(run["url"]), 200)["to_write"] == run["to_write"] + 1

    sim.knobs.clear_log()
    applied = services.jobs.wait(body(client.post(f"{run['url']}/apply"), 202)["id"], timeout=DEADLINE_S)
    assert applied.state.value == "succeeded", applied.error_message

    assert rate_writes(sim) == {key: 1 for key in planned_writes | {chosen}}
    assert admin_ratings(sim)[chosen] == float(item["target"])
    assert not set(map(key_of, dismissed_item["candidates"])) & (set(rate_writes(sim)) - planned_writes)
    final = {i["position"]: i for i in items(client, run)}
    assert final[chosen_item["position"]]["status"] == "confirmed"
    assert final[dismissed_item["position"]]["action"] == "dismissed"


def test_a_choice_is_remembered_by_the_next_sync_of_the_export(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    run = plan(client, services)
    review = items(client, run, "review")
    target = review[0]
    chosen = key_of(target["candidates"][1])
    body(resolve(client, run, target["position"], {"rating_key": chosen}), 200)

    again = plan(client, services)

    assert again["review"] == run["review"] - 1
    assert again["by_method"].get("remembered") == 1
    (remembered,) = [i for i in items(client, again, "matched") if i["method"] == "remembered"]
    assert remembered["track_key"] == f"/library/metadata/{chosen}"
    assert remembered["source"]["location"] == target["source"]["location"]


def test_a_choice_already_rated_the_same_is_a_noop_and_a_matched_track_is_not_taken_twice(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    run = plan(client, services)
    review = items(client, run, "review")
    matched = items(client, run, "matched")
    refused = error(
        resolve(client, run, review[0]["position"], {"rating_key": key_of(matched[0]["track_key"])}),
        409,
        "sync_item_conflict",
    )
    assert f"already matched by item {matched[0]['position']}" in refused
    # Rated in Plex with the source's own rating: the policy decides a no-op, nothing to write.
    target = review[0]
    candidate = key_of(target["candidates"][0])
    body(client.post("/api/ratings/rate", json={"track_key": candidate, "rating": target["source_rating"]}), 200)
    settled = body(resolve(client, run, target["position"], {"rating_key": candidate}), 200)
    assert settled["item"]["action"] == "noop" and settled["item"]["status"] is None
    assert settled["item"]["plex_rating"] == target["source_rating"]
    assert settled["run"]["to_write"] == run["to_write"] and settled["run"]["noops"] == run["noops"] + 1


def test_refusals_change_nothing(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    run = plan(client, services)
    review = items(client, run, "review")
    position = review[0]["position"]
    candidate = key_of(review[0]["candidates"][0])
    before = items(client, run)

    error(resolve(client, run, 100_000, {"dismiss": True}), 404, "sync_item_not_found")
    error(
        client.post(f"/api/ratings/sync/999/items/{position}/resolve", json={"dismiss": True}),
        404,
        "sync_run_not_found",
    )
    foreign = resolve(client, run, position, {"rating_key": candidate}, headers={"Authorization": f"Bearer {ALICE}"})
    error(foreign, 404, "sync_run_not_found")
    assert "999999" in error(resolve(client, run, position, {"rating_key": 999_999}), 404, "track_not_found")
    assert "not a review item" in error(resolve(client, run, 0, {"dismiss": True}), 409, "sync_item_conflict")
    assert items(client, run) == before

    body(resolve(client, run, position, {"dismiss": True}), 200)
    again = error(resolve(client, run, position, {"rating_key": candidate}), 409, "sync_item_conflict")
    assert "already dismissed" in again

    applied = plan(client, services, dry_run=False)
    assert applied["state"] == "applied"
    late = items(client, applied, "review")[0]
    message = error(resolve(client, applied, late["position"], {"dismiss": True}), 409, "sync_run_conflict")
    assert "applied" in message
    assert items(client, applied, "review")[0] == late
    # Alice sees none of this: her own runs are empty.
    headers = {"Authorization": f"Bearer {ALICE}"}
    assert body(client.get("/api/ratings/sync", headers=headers), 200)["items"] == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"rating_key": 1000, "dismiss": True}, 422, "validation_error"),
        ({"dismiss": False}, 422, "validation_error"),
        ({"rating_key": "1000"}, 422, "validation_error"),
        ({"rating_key": 1000.0}, 422, "validation_error"),
        ({"rating_key": -1}, 422, "validation_error"),
        ({"rating_key": 0}, 422, "validation_error"),
        ({"rating_key": 2**70}, 422, "validation_error"),
        ({"rating_key": True}, 422, "validation_error"),
        ({"dismiss": "yes"}, 422, "validation_error"),
        ({"dismiss": True, "force": True}, 422, "validation_error"),
        ([1000], 422, "validation_error"),
        ("dismiss", 422, "validation_error"),
    ],
)
def test_hostile_bodies_are_refused(
    client: FlaskClient, services: Services, sim: RunningServer, payload: object, status: int, code: str
) -> None:
    run = plan(client, services)
    position = items(client, run, "review")[0]["position"]
    error(resolve(client, run, position, payload), status, code)
    assert body(client.get(run["url"]), 200)["review"] == run["review"]


def test_malformed_requests_are_refused(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    run = plan(client, services)
    url = f"{run['url']}/items/{items(client, run, 'review')[0]['position']}/resolve"
    error(client.post(url, data="{not json", content_type="application/json"), 400, "bad_request")
    assert client.post(url, data=json.dumps({"dismiss": True}), content_type="text/plain").status_code == 415
    assert client.post(url, data=b"[" * 2_000_000, content_type="application/json").status_code == 413
    assert client.post(f"{run['url']}/items/-1/resolve", json={"dismiss": True}).status_code == 404
    assert body(client.get(run["url"]), 200)["review"] == run["review"]


def test_the_endpoint_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = body(client.get("/api/openapi.json"), 200)
    operation = spec["paths"]["/api/ratings/sync/{run_id}/items/{position}/resolve"]["post"]
    assert {"404", "409", "422"} <= set(operation["responses"])
    assert "requestBody" in operation

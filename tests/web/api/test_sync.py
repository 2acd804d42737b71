"""``/api/ratings/sync`` end to end: real iTunes exports (uploaded or named in SYNC_IMPORT_DIR), real services and
SQLite, plexsim over HTTP; hostile requests are refused with a 4xx and nothing started, stored or written."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from plexm8.bootstrap import Services
from plexsim.exports import HardCaseSet, Perturbations, build_hard_case_set, write_itunes_xml
from plexsim.generate import ADMIN_TOKEN, account_token, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

from .conftest import body, error, rate_writes

DEADLINE_S = 30.0
ALICE = account_token("alice", 2)
#: No perturbation at all: every exported track matches by path, so the figures below are exact.
EXACT = Perturbations(**{f.name: 0 for f in dataclasses.fields(Perturbations)})


@pytest.fixture
def hard_cases() -> HardCaseSet:
    return build_hard_case_set(generate_library(tracks=120, seed=5), perturbations=EXACT, seed=3)


@pytest.fixture
def plex_library(hard_cases: HardCaseSet) -> Library:
    return hard_cases.library


@pytest.fixture
def import_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


@pytest.fixture
def plex_environ(import_dir: Path) -> dict[str, str]:
    return {"INDEX_REFRESH_INTERVAL": "0", "SYNC_IMPORT_DIR": str(import_dir), "SYNC_UPLOAD_MAX_MB": "1"}


@pytest.fixture
def export(hard_cases: HardCaseSet, tmp_path: Path) -> bytes:
    """An iTunes Library.xml rating every exported track 1-5 stars in turn."""
    tracks = [dataclasses.replace(t, rating=(n % 5 + 1) * 20) for n, t in enumerate(hard_cases.tracks)]
    path = tmp_path / "export.xml"
    write_itunes_xml(tracks, path)
    return path.read_bytes()


def ratings(sim: RunningServer, token: str = ADMIN_TOKEN) -> dict[int, float]:
    with sim.state.lock:
        (account,) = [a for a in sim.state.accounts.values() if token in a.tokens]
        return {key: info.rating for key, info in account.ratings.items()}


def finished(services: Services, started: dict[str, Any]) -> dict[str, Any]:
    record = services.jobs.wait(started["id"], timeout=DEADLINE_S)
    assert record.state.value == "succeeded", (record.error_code, record.error_message)
    assert record.result is not None
    return dict(record.result)


def upload(
    client: FlaskClient, content: bytes, name: str = "Library.xml", *, token: str | None = None, **fields: Any
) -> Any:
    data: dict[str, Any] = {"file": FileStorage(io.BytesIO(content), filename=name), "source": "itunes", **fields}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Encoded in memory: the test client spools big bodies to a temporary file that stays open when the view
    # refuses the upload before reading it (413), which a real server never leaves behind.
    boundary, payload = encode_multipart(data)
    return client.post(
        "/api/ratings/sync", data=payload, content_type=f"multipart/form-data; boundary={boundary}", headers=headers
    )


def nothing_started(services: Services, sim: RunningServer) -> None:
    assert services.jobs.list(kind="ratings_sync") == []
    assert services.sync.history(services.account_for(None).key) == []
    assert sum(rate_writes(sim).values()) == 0
    uploads = services.settings.data_dir / "sync-uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_upload_plans_a_dry_run_then_apply_and_undo(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes
) -> None:
    before = ratings(sim)
    started = upload(client, export)
    job = body(started, 202)
    assert started.headers["Location"] == f"/api/jobs/{job['id']}"
    result = finished(services, job)

    assert result["dry_run"] is True and result["state"] == "planned"
    assert result["matched"] == 108 and result["unmatched"] == 0 and result["review"] == 0
    assert result["updated"] + result["skipped"] == result["matched"]
    assert result["updated"] == result["to_write"] > 0
    assert sum(rate_writes(sim).values()) == 0 and ratings(sim) == before
    assert list((services.settings.data_dir / "sync-uploads").iterdir()) == []  # the upload is gone

    run = body(client.get(result["url"]), 200)
    assert run["state"] == "planned" and run["source_name"] == "Library.xml" and run["policy"] == "fill"
    assert run["by_method"] == {"path": 108}
    page = body(client.get(f"{result['items_url']}?status=write&limit=5"), 200)
    assert page["total"] == result["updated"] and len(page["items"]) == 5
    item = page["items"][0]
    assert item["status"] == "planned" and item["plex_rating"] is None and item["target"] in (2, 4, 6, 8, 10)
    assert item["source"]["scale"] == "itunes" and item["track_key"].startswith("/library/metadata/")

    applied = finished(services, body(client.post(f"/api/ratings/sync/{run['id']}/apply"), 202))
    assert applied["state"] == "applied" and applied["updated"] == result["updated"]
    written = rate_writes(sim)
    assert len(written) == result["updated"] and set(written.values()) == {1}
    assert body(client.get("/api/ratings/sync"), 200)["items"][0]["journal"] == {"confirmed": result["updated"]}

    undone = finished(services, body(client.post(f"/api/ratings/sync/{run['id']}/undo"), 202))
    assert undone["state"] == "undone"
    assert ratings(sim) == before
    error(client.post(f"/api/ratings/sync/{run['id']}/apply"), 409, "sync_run_conflict")


def test_a_file_named_in_the_import_dir_is_applied_at_once_and_a_second_sync_writes_nothing(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes, import_dir: Path
) -> None:
    (import_dir / "Library.xml").write_bytes(export)
    request = {"source": "itunes", "file": "Library.xml", "dry_run": False, "policy": "overwrite"}
    result = finished(services, body(client.post("/api/ratings/sync", json=request), 202))
    assert result["state"] == "applied" and result["updated"] > 0
    sim.knobs.clear_log()

    again = finished(services, body(client.post("/api/ratings/sync", json=request), 202))

    assert again["state"] == "applied" and again["to_write"] == 0 and again["noops"] == again["matched"]
    assert sum(rate_writes(sim).values()) == 0


@pytest.mark.parametrize("name", ["../export.xml", "/etc/passwd", "sub/../../export.xml", "..\\export.xml", "."])
def test_names_outside_the_import_dir_are_refused(
    client: FlaskClient, services: Services, sim: RunningServer, name: str
) -> None:
    message = error(client.post("/api/ratings/sync", json={"source": "itunes", "file": name}), 422, "validation_error")
    assert "SYNC_IMPORT_DIR" in message
    nothing_started(services, sim)


def test_a_symlink_leading_out_of_the_import_dir_is_refused(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes, import_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "private.xml"
    outside.write_bytes(export)
    os.symlink(outside, import_dir / "link.xml")
    message = error(
        client.post("/api/ratings/sync", json={"source": "itunes", "file": "link.xml"}), 422, "validation_error"
    )
    assert "inside SYNC_IMPORT_DIR" in message
    nothing_started(services, sim)


def test_an_oversize_upload_is_refused(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    message = error(upload(client, b"<" * (2 << 20)), 413, "request_entity_too_large")
    assert "SYNC_UPLOAD_MAX_MB" in message
    nothing_started(services, sim)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"", b'<?xml version="1.0"?><plist><dict><key>Tracks'],
)
def test_a_file_that_is_not_an_export_is_refused_at_once(
    client: FlaskClient, services: Services, sim: RunningServer, content: bytes
) -> None:
    error(upload(client, content), 400, "invalid_source_file")
    nothing_started(services, sim)


def test_an_entity_expansion_attack_is_refused(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b"<plist><dict><key>Tracks</key><dict><key>1</key><dict><key>Name</key><string>&lol2;</string>"
        b"</dict></dict></dict></plist>"
    )
    error(upload(client, bomb), 400, "invalid_source_file")
    nothing_started(services, sim)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "winamp"}, "source"),
        ({"policy": "newest"}, "policy"),
        ({"policy": "two-way"}, "winner"),
        ({"path_map": "no-equals-sign"}, "path map"),
        ({"source": "tags"}, "folder"),
    ],
)
def test_bad_options_are_refused(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes, fields: dict[str, str], message: str
) -> None:
    assert message in error(upload(client, export, **fields), 422, "validation_error")
    nothing_started(services, sim)


def test_requests_without_an_export_are_refused(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    error(client.post("/api/ratings/sync", data="x", content_type="text/plain"), 415, "unsupported_media_type")
    error(
        client.post("/api/ratings/sync", data={"source": "itunes"}, content_type="multipart/form-data"),
        422,
        "validation_error",
    )
    error(client.post("/api/ratings/sync", data=b"{", content_type="application/json"), 400, "bad_request")
    error(client.post("/api/ratings/sync", json={"source": "itunes", "file": "missing.xml"}), 422, "validation_error")
    nothing_started(services, sim)


def test_plex_down_is_a_503_with_nothing_started(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes
) -> None:
    services.account_for(None)  # the server's id is known: only the probe can tell Plex is down
    sim.knobs.configure(fail_rate=1.0, fail_status=503)
    error(upload(client, export), 503, "plex_unavailable")
    sim.knobs.reset()
    nothing_started(services, sim)


def test_a_bearer_token_syncs_as_that_user(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes
) -> None:
    admin_before = ratings(sim)
    alice_before = ratings(sim, ALICE)
    result = finished(services, body(upload(client, export, token=ALICE, dry_run="false"), 202))

    assert result["state"] == "applied" and result["updated"] > 0
    assert ratings(sim) == admin_before
    changed = {k for k, v in ratings(sim, ALICE).items() if alice_before.get(k) != v}
    assert len(changed) == result["updated"]
    headers = {"Authorization": f"Bearer {ALICE}"}
    # The run is Alice's: the configured (admin) token does not see it.
    error(client.get(result["url"]), 404, "sync_run_not_found")
    error(client.post(f"{result['url']}/undo"), 404, "sync_run_not_found")
    assert body(client.get(result["url"], headers=headers), 200)["id"] == result["run"]


def test_item_filters_are_checked(client: FlaskClient, services: Services, export: bytes) -> None:
    result = finished(services, body(upload(client, export), 202))
    assert "status" in error(client.get(f"{result['items_url']}?status=bogus"), 422, "validation_error")
    assert body(client.get(f"{result['items_url']}?status=matched&limit=1000"), 200)["total"] == 108
    error(client.post(f"{result['url']}/undo"), 409, "sync_run_conflict")
    error(client.get("/api/ratings/sync/999999"), 404, "sync_run_not_found")


def test_an_upload_name_never_chooses_where_the_file_goes(
    client: FlaskClient, services: Services, export: bytes, tmp_path: Path
) -> None:
    result = finished(services, body(upload(client, export, name="../../../Library.xml"), 202))
    assert body(client.get(result["url"]), 200)["source_name"] == "Library.xml"
    assert not (tmp_path / "Library.xml").exists()
    assert list((services.settings.data_dir / "sync-uploads").iterdir()) == []


def test_a_foreign_web_page_cannot_start_a_sync(
    client: FlaskClient, services: Services, sim: RunningServer, export: bytes
) -> None:
    # A form on any web site can POST multipart to localhost without a CORS preflight: the Origin decides.
    boundary, payload = encode_multipart(
        {"file": FileStorage(io.BytesIO(export), filename="Library.xml"), "source": "itunes"}
    )
    response = client.post(
        "/api/ratings/sync",
        data=payload,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Origin": "https://evil.example"},
    )
    error(response, 403, "origin_not_allowed")
    nothing_started(services, sim)

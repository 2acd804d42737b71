"""JSON errors: PlexM8 errors with their status and code, 404/405/500 under /api, HTML elsewhere."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plexm8.errors import PlexAuthError, PlexM8Error, PlexUnavailable, TrackNotFound, ValidationError


def test_unknown_api_path_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.get_json()["error"]["message"]


def test_unknown_page_outside_the_api_stays_html(client: FlaskClient) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (PlexUnavailable("cannot connect to Plex"), 503, "plex_unavailable"),
        (PlexAuthError("Plex refused the token"), 401, "plex_unauthorized"),
        (TrackNotFound("no track /library/metadata/9"), 404, "track_not_found"),
        (ValidationError("rating must be 0-10", field="rating"), 422, "validation_error"),
    ],
)
def test_plexm8_errors_become_json_with_their_status(app: Flask, error: PlexM8Error, status: int, code: str) -> None:
    def fail() -> str:
        raise error

    app.add_url_rule("/api/test-error", view_func=fail)
    response = app.test_client().get("/api/test-error")
    assert response.status_code == status
    assert response.get_json() == {"error": {"code": code, "message": error.message}}


def test_unexpected_error_is_a_json_500_without_details(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    def crash() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/test-crash", view_func=crash)
    response = app.test_client().get("/api/test-crash")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text  # but the log has what is needed to fix it

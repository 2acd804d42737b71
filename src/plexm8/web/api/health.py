"""``GET /api/health``: what the web app probes to find a local PlexM8; answers from cached state only.

Response (200, always ``"status": "ok"`` while the service runs, whatever the state of Plex)::

    {
      "status": "ok",
      "version": "0.1.0",                      # PlexM8's version
      "features": [],                          # API capabilities this build really serves (see plexm8.web.api)
      "plex_api_version": "4.18.3",            # installed python-plexapi
      "plex": {
        "mode": "demo" | "real",
        "server_url": "http://127.0.0.1:32400",
        "reachable": true,                     # outcome of the latest background check
        "server_name": "My Plex",              # from the last successful check (kept while unreachable), or null
        "server_version": "1.41.9.9961-46083195d",
        "machine_identifier": "5f1e...",
        "checked_at": "2026-01-31T12:00:00Z",  # latest check finished (UTC), null before the first one
        "error": null | {"code": "plex_unavailable" | "plex_unauthorized" | ..., "message": "..."}
      }
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from plexm8 import __version__
from plexm8.core.models import ConnectionStatus
from plexm8.web.extension import get_services

__all__ = ["FEATURES_KEY", "bp", "plex_state_json"]

bp = Blueprint("health", __name__, url_prefix="/api")

#: ``app.config`` key holding the feature names the factory collected from the registered API blueprints.
FEATURES_KEY = "PLEXM8_FEATURES"
_RENDERED_KEY = "plexm8_health_rendered"


def plex_state_json(status: ConnectionStatus) -> dict[str, Any]:
    """The ``"plex"`` object of the health document for a connection status."""
    identity = status.identity
    checked_at = status.checked_at
    return {
        "mode": status.mode.value,
        "server_url": status.server_url,
        "reachable": status.reachable,
        "server_name": identity.name if identity else None,
        "server_version": identity.version if identity else None,
        "machine_identifier": identity.machine_identifier if identity else None,
        "checked_at": checked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if checked_at else None,
        "error": {"code": status.error_code, "message": status.error_message} if status.error_code else None,
    }


@dataclass(frozen=True, slots=True)
class _Rendered:
    """The health document rendered for one connection status (the rest of it is fixed for the app's life)."""

    status: ConnectionStatus
    body: bytes


@bp.get("/health")
def health() -> Response:
    """Report that PlexM8 runs, what it offers, and the cached Plex connection state."""
    services = get_services()
    status = services.monitor.status()
    rendered = current_app.extensions.get(_RENDERED_KEY)
    # The monitor replaces its (frozen) status object on every check, so identity tells whether the document is
    # current; web apps poll this endpoint, and rendering it once per check instead of per request keeps it cheap.
    # Threads racing here at worst render the same document twice.
    if not isinstance(rendered, _Rendered) or rendered.status is not status:
        document = {
            "status": "ok",
            "version": __version__,
            "features": list(current_app.config[FEATURES_KEY]),
            "plex_api_version": services.plex_api_version,
            "plex": plex_state_json(status),
        }
        rendered = _Rendered(status=status, body=jsonify(document).get_data())
        current_app.extensions[_RENDERED_KEY] = rendered
    return Response(rendered.body, mimetype="application/json")

"""``GET /``: a small page saying what this service is and where its API lives."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response

from plexm8 import __version__
from plexm8.core.models import PlexMode
from plexm8.web.extension import get_services

__all__ = ["bp"]

bp = Blueprint("ui", __name__)

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>PlexM8</title></head>
<body>
<h1>PlexM8 {version}</h1>
<p>A local companion service for your Plex music library{mode}.
It is meant to be used from the <a href="https://plexm8.netlify.app">PlexM8 web app</a>,
which finds it at this address.</p>
<p>Service status: <a href="/api/health">/api/health</a></p>
</body>
</html>
"""


@bp.get("/")
def index() -> Response:
    """Describe the service in one page."""
    demo = get_services().mode is PlexMode.DEMO
    mode = ", running in <strong>demo mode</strong> with a built-in sample library" if demo else ""
    return Response(_PAGE.format(version=escape(__version__), mode=mode), mimetype="text/html")

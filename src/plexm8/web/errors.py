"""JSON error responses: PlexM8 errors anywhere, and HTTP errors and crashes under ``/api/``.

Every error body has the shape ``{"error": {"code": "<stable_code>", "message": "<one line>"}}``.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from plexm8.errors import PlexM8Error

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def error_response(status: int, code: str, message: str) -> Response:
    """A JSON error response with the given status, stable code and one-line message."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def install_error_handlers(app: Flask) -> None:
    """Register the handlers that turn errors into JSON responses on ``app``."""
    app.register_error_handler(PlexM8Error, _plexm8_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _plexm8_error(exc: PlexM8Error) -> Response:
    return error_response(exc.status, exc.code, exc.message)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if not _is_api_request():
        return exc.get_response()
    code = _NOT_WORD.sub("_", (exc.name or "error").lower()).strip("_")
    response = error_response(exc.code or 500, code, _first_line(exc.description))
    # Keep werkzeug's other headers (Allow on a 405, for one).
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(exc: Exception) -> ResponseReturnValue:
    log.exception("unexpected error while handling %s %s", request.method, request.path)
    if not _is_api_request():
        return InternalServerError().get_response()
    return error_response(500, "internal_error", "PlexM8 hit an unexpected error; the details are in its log")


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""

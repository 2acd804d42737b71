"""Answers given before Flask runs: ``GET`` requests whose body is already made, under the same guard as Flask's.

Web apps poll a few read-only endpoints (health, the top-rated list) again and again, and Flask's per-request
machinery costs several times what handing out a body that is already made does. :class:`PreparedAnswers` wraps
Flask's WSGI app: for a ``GET`` of a registered path whose ``Host`` passes the
:class:`~plexm8.web.security.RequestGuard`, it asks the path's :data:`Preparer` for the body and sends it with
exactly the headers Flask would (JSON content type, length, ``Vary: Origin``, and ``Access-Control-Allow-Origin``
only for allowed origins). Everything else, and every request the preparer has no body for, goes on to Flask,
which then answers (or refuses) as usual: a foreign ``Host`` still gets Flask's 421, another method Flask's
routing, a request nobody prepared for the view itself.

Prepared answers skip Flask's ``before_request``/``after_request`` hooks: a hook added to the app later (beyond
the guard and the CORS headers, which are applied here) must be applied here too, or the path not prepared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.wsgi import get_host

from plexm8.web.security import RequestGuard

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PreparedAnswers", "Preparer"]

#: Gives the JSON body of a ``GET`` of its path for the app and the request's WSGI environ, or ``None`` to leave
#: the request to Flask. It runs outside any Flask context and must answer exactly as the Flask view would.
Preparer = Callable[[Flask, "WSGIEnvironment"], bytes | None]


class PreparedAnswers:
    """WSGI middleware in front of ``app``'s own WSGI app (module docstring)."""

    def __init__(self, app: Flask, guard: RequestGuard, *, on_request: Callable[[], None] | None = None) -> None:
        #: Where requests not answered here go (Flask's own ``wsgi_app``).
        self.app: WSGIApplication = app.wsgi_app
        self._flask = app
        self._guard = guard
        self._on_request = on_request
        self._preparers: dict[str, Preparer] = {}

    def add(self, path: str, preparer: Preparer) -> None:
        """Answer ``GET path`` (exactly, no trailing slash) from ``preparer`` when it has a body."""
        self._preparers[path] = preparer

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer here, or pass the request on."""
        preparer = self._preparers.get(environ.get("PATH_INFO", ""))
        if preparer is None or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        if environ.get("SCRIPT_NAME") or "HTTP_HOST" not in environ:
            return self.app(environ, start_response)
        # The host as Flask sees it (werkzeug's parsing, invalid characters included), so both paths agree.
        host = get_host(environ)
        if not self._guard.host_allowed(host):
            return self.app(environ, start_response)
        if self._on_request is not None:
            self._on_request()
        body = preparer(self._flask, environ)
        if body is None:
            return self.app(environ, start_response)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Vary", "Origin")]
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and self._guard.origin_allowed(
            origin, own_origin=f"{environ['wsgi.url_scheme']}://{host}"
        ):
            headers.append(("Access-Control-Allow-Origin", origin))
        start_response("200 OK", headers)
        return [body]

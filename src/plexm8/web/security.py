"""Request guards for a token-holding service on localhost: Host check, CORS allow-list, Private Network Access.

Any web page the user visits can send requests to localhost, so (DESIGN.md §7):

- The ``Host`` header must be a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``, any port) or one of
  ``ALLOWED_HOSTS``; otherwise 421 ``host_not_allowed``. This defeats DNS rebinding, where a foreign name is made
  to resolve to 127.0.0.1 so the browser treats PlexM8 as same-origin with the attacker's page.
- An origin is allowed when it is in ``CORS_ORIGINS`` or is PlexM8's own origin (the built-in UI). Allowed
  origins get ``Access-Control-Allow-Origin``; others get no CORS headers at all, so browsers hide responses.
- Because a hidden response does not undo a write, state-changing requests (POST, PUT, PATCH, DELETE) carrying an
  ``Origin`` outside the allow-list are refused with 403 ``origin_not_allowed`` before routing, so even a 404 or
  405 answer is a 403 for them. Requests without ``Origin`` (curl, the CLI, server-side callers) pass.
- Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered here with 204 for allowed origins,
  including ``Access-Control-Allow-Private-Network: true`` when Chrome asks with
  ``Access-Control-Request-Private-Network: true`` (a public HTTPS page calling a loopback address); preflights
  from other origins get 403.
- Every response carries ``Vary: Origin`` because its CORS headers depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

from plexm8.errors import HostNotAllowed, OriginNotAllowed

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "LOOPBACK_HOSTS", "RequestGuard", "install_request_guards"]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Accept-Language, Content-Language, X-Requested-With"
PREFLIGHT_MAX_AGE = "600"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestGuard:
    """The Host and Origin rules above on plain header values, for the Flask hooks and for WSGI-level answers."""

    __slots__ = ("_hosts", "_origins")

    def __init__(self, *, cors_origins: Iterable[str], allowed_hosts: Iterable[str]) -> None:
        self._origins = frozenset(origin.lower() for origin in cors_origins)
        self._hosts = LOOPBACK_HOSTS | {host.lower() for host in allowed_hosts}

    def host_allowed(self, host: str) -> bool:
        """Whether a ``Host`` header value names a loopback host or one of ``ALLOWED_HOSTS`` (any port)."""
        return _hostname(host) in self._hosts

    def origin_allowed(self, origin: str, *, own_origin: str) -> bool:
        """Whether ``origin`` is in ``CORS_ORIGINS`` or is ``own_origin`` (``scheme://host`` of the request)."""
        # Same-origin requests from the built-in UI still send Origin on writes; the Host check already vouched
        # for the request's host, so PlexM8's own origin is safe to allow.
        origin = origin.lower()
        return origin in self._origins or origin == own_origin.lower()


def install_request_guards(app: Flask, *, cors_origins: Iterable[str], allowed_hosts: Iterable[str]) -> RequestGuard:
    """Register the Host check, the origin refusal, the preflight answer and the CORS response headers on ``app``.

    Returns the guard, for answers given before Flask (``plexm8.web.api.health``) to apply the same rules.
    """
    rules = RequestGuard(cors_origins=cors_origins, allowed_hosts=allowed_hosts)

    def origin_allowed(origin: str) -> bool:
        return rules.origin_allowed(origin, own_origin=f"{request.scheme}://{request.host}")

    def guard() -> Response | None:
        if not rules.host_allowed(request.host):
            raise HostNotAllowed(f"Host {request.host!r} is not served here; add it to ALLOWED_HOSTS if it is yours")
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not origin_allowed(origin):
                raise OriginNotAllowed(f"origin {origin!r} is not in CORS_ORIGINS")
            return _preflight_response()
        if request.method in STATE_CHANGING and not origin_allowed(origin):
            raise OriginNotAllowed(f"origin {origin!r} is not in CORS_ORIGINS; state-changing requests are refused")
        return None

    def add_cors_headers(response: Response) -> Response:
        if "Vary" in response.headers:
            response.vary.add("Origin")
        else:
            # Most responses carry no Vary yet; setting it directly skips parsing a header set on every request.
            response.headers["Vary"] = "Origin"
        origin = request.headers.get("Origin")
        if origin is not None and origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
        return response

    app.before_request(guard)
    app.after_request(add_cors_headers)
    return rules


def _preflight_response() -> Response:
    response = Response(status=204)
    del response.headers["Content-Type"]  # a 204 has no body to describe
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    return response


def _hostname(host: str) -> str:
    """The host name of a Host header value, without port or IPv6 brackets, lower-cased."""
    host = host.lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rpartition(":")[0] if ":" in host else host

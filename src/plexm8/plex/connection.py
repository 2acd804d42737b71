"""The connection to one Plex Media Server through python-plexapi, opened lazily and probed with a timeout."""

from __future__ import annotations

from importlib.metadata import version

import requests
from plexapi.server import PlexServer

from plexm8.core.models import ServerIdentity
from plexm8.errors import PlexUnavailable
from plexm8.plex.errors import translate_plex_errors

__all__ = ["PlexApiConnection", "plexapi_version"]


def plexapi_version() -> str:
    """The installed python-plexapi version, read from package metadata (importing plexapi is not needed)."""
    return version("plexapi")


class PlexApiConnection:
    """A Plex server at ``base_url``; nothing is sent until :meth:`probe` (``PlexServer()`` itself does a GET)."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = requests.Session()

    @property
    def base_url(self) -> str:
        """The server's base URL (never carries the token)."""
        return self._base_url

    def probe(self) -> ServerIdentity:
        """Ask the server who it is; raise PlexUnavailable or PlexAuthError (see :class:`PlexServerProbe`)."""
        with translate_plex_errors(self._base_url, timeout=self._timeout, secrets=(self._token,)):
            # plexapi is untyped; PlexServer() sends GET / and parses the answer.
            server = PlexServer(  # type: ignore[no-untyped-call]
                self._base_url, self._token, session=self._session, timeout=self._timeout
            )
        name, server_version, machine_id = server.friendlyName, server.version, server.machineIdentifier
        if not machine_id:
            raise PlexUnavailable(f"the server at {self._base_url} did not answer like Plex (no machineIdentifier)")
        return ServerIdentity(
            name=str(name or ""), version=str(server_version or ""), machine_identifier=str(machine_id)
        )

    def close(self) -> None:
        """Close pooled HTTP connections; the object stays usable and reconnects on the next probe."""
        self._session.close()

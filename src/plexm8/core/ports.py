"""The ports: Protocols the services depend on and the adapters (plex/, store/, importers/) implement."""

from __future__ import annotations

from typing import Protocol

from plexm8.core.models import ServerIdentity

__all__ = ["PlexServerProbe"]


class PlexServerProbe(Protocol):
    """Something that can ask the Plex server who it is, with a bounded wait."""

    def probe(self) -> ServerIdentity:
        """Ask the server for its identity now.

        Raises :class:`~plexm8.errors.PlexUnavailable` when it cannot be reached in time or does not answer like
        Plex, and :class:`~plexm8.errors.PlexAuthError` when it refuses the token.
        """
        ...

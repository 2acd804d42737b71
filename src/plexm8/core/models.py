"""Frozen models of PlexM8's view of the world: the Plex server it talks to and the state of that connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["ConnectionStatus", "PlexMode", "ServerIdentity"]


class PlexMode(StrEnum):
    """Whether PlexM8 talks to the user's Plex server or to its built-in demo server (plexsim)."""

    DEMO = "demo"
    REAL = "real"


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """Who answered at the Plex URL: the server's friendly name, its version and its stable machine id."""

    name: str
    version: str
    machine_identifier: str


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The outcome of the latest check of the Plex connection.

    ``identity`` is the server seen at the last *successful* check (kept while Plex is unreachable, so the
    user still sees which server is meant); ``reachable`` and ``error_*`` describe the latest check.
    ``checked_at`` is ``None`` until the first check has finished.
    """

    mode: PlexMode
    server_url: str
    reachable: bool = False
    identity: ServerIdentity | None = None
    checked_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None

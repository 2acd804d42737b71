"""Plex accounts as PlexM8 sees them: a token and the stable, token-free key the index files its data under."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["PlexAccount", "account_key"]


def account_key(machine_identifier: str, token: str) -> str:
    """The index key of the account that owns ``token`` on the server ``machine_identifier``.

    The first 16 hex digits of ``sha256(machineIdentifier + ":" + token)``: stable across restarts, different per
    server, and useless for recovering the token, so it may appear in logs, job records and the database.
    """
    return hashlib.sha256(f"{machine_identifier}:{token}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PlexAccount:
    """Whose view of Plex a request acts with: the token (never logged, never stored) and its account key."""

    key: str
    token: str = field(repr=False)
    #: True when the request brought its own token (``Authorization: Bearer``), False for the configured one.
    from_request: bool = False

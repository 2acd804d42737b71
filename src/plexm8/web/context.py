"""Who a request acts as: ``Authorization: Bearer <Plex token>`` when sent, else the configured token.

Views call :func:`current_account` once they need the account (reading the index, writing to Plex); endpoints that
never touch Plex or per-account data never ask, so a malformed header does not break them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import g, request

from plexm8.bootstrap import Services
from plexm8.core.accounts import PlexAccount
from plexm8.core.catalog import RefreshResult
from plexm8.errors import InvalidAuthorization
from plexm8.plex.library import PlexApiLibrary
from plexm8.web.extension import get_services

__all__ = ["AccountContext", "current_account", "request_token"]

#: Plex tokens are short printable strings; anything else in the header is refused rather than sent to Plex.
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{1,512}$")
_G_KEY = "plexm8_account"


@dataclass(frozen=True, slots=True)
class AccountContext:
    """The account of the current request, with the ways to reach its Plex view and its index."""

    account: PlexAccount
    services: Services

    @property
    def key(self) -> str:
        """The account key the index files the account's data under (safe to log)."""
        return self.account.key

    @property
    def token(self) -> str:
        """The Plex token the request acts with; never log it or put it in a response."""
        return self.account.token

    def plex(self) -> PlexApiLibrary:
        """The Plex server as this account (lazily connected, pooled per token)."""
        return self.services.plex_for(self.account.token)

    def ensure_indexed(self) -> RefreshResult | None:
        """Build the account's index now if it has none (see ``LibraryIndex.ensure_account_indexed``)."""
        return self.services.index.ensure_account_indexed(self.account)


def request_token() -> str | None:
    """The Bearer token of the current request, ``None`` without an Authorization header.

    Raises :class:`InvalidAuthorization` (401) when the header is present but not ``Bearer <token>``.
    """
    return bearer_token(request.headers.get("Authorization"))


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header's value, ``None`` without one; as :func:`request_token`."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.match(token):
        raise InvalidAuthorization("the Authorization header must be 'Bearer <Plex token>'")
    return token


def current_account() -> AccountContext:
    """The account the current request acts as (worked out once per request)."""
    context = g.get(_G_KEY)
    if not isinstance(context, AccountContext):
        services = get_services()
        context = AccountContext(account=services.account_for(request_token()), services=services)
        setattr(g, _G_KEY, context)
    return context

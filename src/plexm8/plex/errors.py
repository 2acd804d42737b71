"""Translation of plexapi and requests exceptions into PlexM8 errors with token-free one-line messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from xml.etree.ElementTree import ParseError

import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized

from plexm8.errors import PlexAuthError, PlexUnavailable

__all__ = ["translate_plex_errors"]

_STATUS = re.compile(r"^\((\d{3})\)")
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


@contextmanager
def translate_plex_errors(url: str, *, timeout: float, secrets: tuple[str | None, ...] = ()) -> Iterator[None]:
    """Re-raise vendor exceptions from the block as :class:`PlexAuthError` / :class:`PlexUnavailable`.

    ``url`` is the server's base URL for the message; any of ``secrets`` found in a message is masked, because
    vendor messages quote URLs and bodies that may carry a token.
    """
    try:
        yield
    except Unauthorized:
        raise PlexAuthError(f"Plex at {url} refused the token (HTTP 401); check PLEX_TOKEN") from None
    except (NotFound, BadRequest) as exc:
        match = _STATUS.match(str(exc))
        status = f"HTTP {match.group(1)}" if match else "an error"
        raise PlexUnavailable(f"Plex at {url} answered {status}") from None
    except requests.Timeout:
        raise PlexUnavailable(f"Plex at {url} did not answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        match = _OS_REASON.search(str(exc))
        reason = _mask(match.group(1).strip(), secrets) if match else "connection failed"
        raise PlexUnavailable(f"cannot connect to Plex at {url}: {reason}") from None
    except requests.RequestException as exc:
        raise PlexUnavailable(f"cannot talk to Plex at {url}: {type(exc).__name__}") from None
    except ParseError:
        raise PlexUnavailable(f"the server at {url} did not answer like Plex (unreadable XML)") from None


def _mask(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<hidden>")
    return text

"""The PlexM8 exception tree; every error carries an HTTP status and a stable machine-readable code.

Adapters translate vendor exceptions (plexapi, requests, sqlite3) into these, so callers only ever handle
PlexM8 errors. Messages are shown to users as they are: they must never contain a token.

::

    PlexM8Error                      500 internal_error
    ├── SettingsError                500 invalid_setting       (start-up: the CLI prints it and exits 2)
    ├── PlexError                    502 plex_error
    │   ├── PlexUnavailable          503 plex_unavailable      (unreachable, timed out, not answering like Plex)
    │   └── PlexAuthError            401 plex_unauthorized     (Plex refused the token)
    ├── BadRequest                   400 bad_request           (malformed request: bad JSON, bad query parameter)
    │   ├── ValidationError          422 validation_error      (well-formed but invalid values)
    │   └── SourceFormatError        400 invalid_source_file   (a rating source file or folder that cannot be read)
    ├── InvalidAuthorization         401 invalid_authorization (an Authorization header that is not 'Bearer <token>')
    ├── Forbidden                    403 forbidden
    │   └── OriginNotAllowed         403 origin_not_allowed    (state-changing request from a foreign web page)
    ├── HostNotAllowed               421 host_not_allowed      (Host header not ours: DNS-rebinding defence)
    ├── NotFound                     404 not_found
    │   ├── TrackNotFound            404 track_not_found
    │   ├── PlaylistNotFound         404 playlist_not_found
    │   ├── PlaylistItemNotFound     404 playlist_item_not_found
    │   └── JobNotFound              404 job_not_found
    ├── SmartPlaylistReadOnly        409 smart_playlist        (adding, removing or moving items of a smart playlist)
    ├── JobCancelled                 409 job_cancelled         (raised inside a job asked to stop; ends it)
    └── JobFinished                  409 job_finished          (cancelling a job that is already over)
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Forbidden",
    "HostNotAllowed",
    "InvalidAuthorization",
    "JobCancelled",
    "JobFinished",
    "JobNotFound",
    "NotFound",
    "OriginNotAllowed",
    "PlaylistItemNotFound",
    "PlaylistNotFound",
    "PlexAuthError",
    "PlexError",
    "PlexM8Error",
    "PlexUnavailable",
    "RecommendationsNotReady",
    "ReviewItemConflict",
    "ReviewItemNotFound",
    "SettingsError",
    "SmartPlaylistReadOnly",
    "SourceFormatError",
    "SyncRunBusy",
    "SyncRunNotFound",
    "TrackNotFound",
    "ValidationError",
]


class PlexM8Error(Exception):
    """Base of every PlexM8 error: ``str(error)`` is a one-line message safe to show to the user."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(PlexM8Error):
    """A setting is invalid; the message starts with the setting's name."""

    code = "invalid_setting"

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


class PlexError(PlexM8Error):
    """Talking to the Plex Media Server failed."""

    status = 502
    code = "plex_error"


class PlexUnavailable(PlexError):
    """Plex cannot be reached, timed out, or did not answer like a Plex Media Server."""

    status = 503
    code = "plex_unavailable"


class PlexAuthError(PlexError):
    """Plex refused the token."""

    status = 401
    code = "plex_unauthorized"


class BadRequest(PlexM8Error):
    """The request is malformed."""

    status = 400
    code = "bad_request"


class ValidationError(BadRequest):
    """The request is well-formed but a value is invalid; ``field`` names it when known."""

    status = 422
    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SourceFormatError(BadRequest):
    """A rating source (player export or tagged folder) cannot be read; the message names the file and the problem."""

    code = "invalid_source_file"

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


class InvalidAuthorization(PlexM8Error):
    """The request's ``Authorization`` header is not ``Bearer <Plex token>``."""

    status = 401
    code = "invalid_authorization"


class Forbidden(PlexM8Error):
    """The request is refused."""

    status = 403
    code = "forbidden"


class OriginNotAllowed(Forbidden):
    """A state-changing request came from a web origin outside the CORS allow-list."""

    code = "origin_not_allowed"


class HostNotAllowed(PlexM8Error):
    """The Host header names neither a loopback name nor a configured host (DNS-rebinding defence)."""

    status = 421
    code = "host_not_allowed"


class NotFound(PlexM8Error):
    """The requested thing does not exist."""

    status = 404
    code = "not_found"


class TrackNotFound(NotFound):
    """No track has this key."""

    code = "track_not_found"


class PlaylistNotFound(NotFound):
    """No playlist has this id."""

    code = "playlist_not_found"


class PlaylistItemNotFound(NotFound):
    """The playlist has no entry with this playlist item id."""

    code = "playlist_item_not_found"


class SmartPlaylistReadOnly(PlexM8Error):
    """The items of a smart playlist follow its rules; they cannot be added, removed or moved one by one."""

    status = 409
    code = "smart_playlist"


class JobNotFound(NotFound):
    """No job has this id."""

    code = "job_not_found"


class JobCancelled(PlexM8Error):
    """The job was asked to stop; raised at its next progress report so that its work unwinds and rolls back."""

    status = 409
    code = "job_cancelled"


class JobFinished(PlexM8Error):
    """The job is already over, so it cannot be cancelled."""

    status = 409
    code = "job_finished"


class SyncRunNotFound(NotFound):
    """No sync run has this id (for this account)."""

    code = "sync_run_not_found"


class ReviewItemNotFound(NotFound):
    """The run has no item at this position."""

    code = "sync_item_not_found"


class ReviewItemConflict(PlexM8Error):
    """The item cannot be settled this way: it is not an open review item, or its choice would write a track twice."""

    status = 409
    code = "sync_item_conflict"


class SyncRunBusy(PlexM8Error):
    """The run cannot do this now: it is being applied or undone elsewhere, or its state does not allow it."""

    status = 409
    code = "sync_run_conflict"


class RecommendationsNotReady(PlexM8Error):
    """The account has no recommendation model yet; a build job was started (``job_id``) and is still running."""

    status = 503
    code = "recommendations_not_ready"

    def __init__(self, message: str, *, job_id: int | None) -> None:
        super().__init__(message)
        self.job_id = job_id

"""PlexM8 settings: one frozen :class:`Settings` built from a mapping of environment variables.

:func:`load_settings` is pure: it reads only the mapping it is given, so the caller decides where values come from
(the CLI merges ``.env.local`` under the process environment) and passes platform defaults such as the data
directory in. Every invalid value raises :class:`~plexm8.errors.SettingsError` naming the variable.

Variables (empty values count as unset):

=====================  =====================================================================================
``PLEX_SERVER_URL``    ``http(s)://host[:port]`` of the Plex Media Server; unset = demo mode (built-in plexsim)
``PLEX_TOKEN``         the Plex token PlexM8 acts with when a request brings none of its own
``HOST``               interface to listen on (default ``127.0.0.1``)
``PORT``               port to listen on, 1-65535 (default ``5000``, where the web app looks)
``DEBUG``              ``true``/``false`` (also 1/0, yes/no, on/off); makes ``LOG_LEVEL`` default to DEBUG
``LOG_LEVEL``          DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)
``CORS_ORIGINS``       comma-separated ``scheme://host[:port]`` origins allowed to call the API
                       (default :data:`DEFAULT_CORS_ORIGINS`)
``ALLOWED_HOSTS``      comma-separated extra host names accepted in the ``Host`` header besides loopback names
``PLEXM8_DATA_DIR``    directory for PlexM8's database and state (default: the platform's user data directory)
``PLEX_TIMEOUT``       seconds to wait for one Plex request (default 10)
``PLEX_CHECK_INTERVAL`` seconds between background checks of the Plex connection (default 60)
``INDEX_REFRESH_INTERVAL`` seconds between automatic refreshes of the local index (default 900; 0 = only on demand)
``SERVER_THREADS``     worker threads answering HTTP requests, 1-256 (default :data:`DEFAULT_SERVER_THREADS`)
``SYNC_IMPORT_DIR``    folder whose player exports ``POST /api/ratings/sync`` may name (unset = uploads only)
``SYNC_UPLOAD_MAX_MB`` largest export upload accepted by ``POST /api/ratings/sync``, 1-4096 MB (default 256)
=====================  =====================================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from plexm8.errors import SettingsError

__all__ = [
    "DEFAULT_CORS_ORIGINS",
    "DEFAULT_INDEX_REFRESH_INTERVAL",
    "DEFAULT_PORT",
    "DEFAULT_SERVER_THREADS",
    "LOG_LEVELS",
    "SETTING_NAMES",
    "Settings",
    "load_settings",
]

DEFAULT_PORT = 5000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PLEX_TIMEOUT = 10.0
DEFAULT_CHECK_INTERVAL = 60.0
DEFAULT_INDEX_REFRESH_INTERVAL = 900.0
#: Requests are short and CPU-bound under one GIL. A request waiting on Plex (a first index build, a rating write)
#: holds a thread but not the GIL, so a few threads keep quick answers flowing meanwhile; more threads running
#: Python at once make each wait longer for the GIL in turn: with 32 clients, a new top-rated query (about 0.5 ms of
#: CPU) had p99 40-44 ms at 4 threads and 76-92 ms at 8 on granian (docs/benchmarks.md, "API latency").
DEFAULT_SERVER_THREADS = 4
MAX_SERVER_THREADS = 256
#: Rating-sync uploads up to this many MB: the biggest iTunes libraries' Library.xml run to about 150 MB.
DEFAULT_SYNC_UPLOAD_MAX_MB = 256

#: The hosted web app, the built-in UI on the default port, and the dev-server ports of a React app
#: (Create React App 3000, Vite 5173, Netlify dev 8888), each under both loopback spellings browsers use.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "https://plexm8.netlify.app",
    *(f"http://{host}:{port}" for port in (5000, 3000, 5173, 8888) for host in ("localhost", "127.0.0.1")),
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Every environment variable :func:`load_settings` reads (tests clear them; the template documents them all).
SETTING_NAMES = (
    "PLEX_SERVER_URL",
    "PLEX_TOKEN",
    "HOST",
    "PORT",
    "DEBUG",
    "LOG_LEVEL",
    "CORS_ORIGINS",
    "ALLOWED_HOSTS",
    "PLEXM8_DATA_DIR",
    "PLEX_TIMEOUT",
    "PLEX_CHECK_INTERVAL",
    "INDEX_REFRESH_INTERVAL",
    "SERVER_THREADS",
    "SYNC_IMPORT_DIR",
    "SYNC_UPLOAD_MAX_MB",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOSTNAME = re.compile(r"^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)$")


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated PlexM8 configuration; build it with :func:`load_settings`, change it with ``dataclasses.replace``."""

    data_dir: Path
    plex_server_url: str | None = None
    plex_token: str | None = field(default=None, repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    debug: bool = False
    log_level: str = "INFO"
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    allowed_hosts: tuple[str, ...] = ()
    plex_timeout: float = DEFAULT_PLEX_TIMEOUT
    plex_check_interval: float = DEFAULT_CHECK_INTERVAL
    #: Seconds between automatic index refreshes of the configured account; 0 disables them (and the one at start).
    index_refresh_interval: float = DEFAULT_INDEX_REFRESH_INTERVAL
    #: Threads of the HTTP server (granian) that run requests.
    server_threads: int = DEFAULT_SERVER_THREADS
    #: The folder rating-sync requests may name an export file in (never a path outside it); None = uploads only.
    sync_import_dir: Path | None = None
    #: The largest export file a rating-sync upload may be, in bytes.
    sync_upload_max_bytes: int = DEFAULT_SYNC_UPLOAD_MAX_MB << 20


def load_settings(environ: Mapping[str, str], *, default_data_dir: Path) -> Settings:
    """Build :class:`Settings` from ``environ``; raise :class:`SettingsError` naming the first invalid variable."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    debug = _parse_bool("DEBUG", get("DEBUG"), default=False)
    data_dir_text = get("PLEXM8_DATA_DIR")
    return Settings(
        plex_server_url=_parse_server_url(get("PLEX_SERVER_URL")),
        plex_token=get("PLEX_TOKEN"),
        host=get("HOST") or DEFAULT_HOST,
        port=_parse_port(get("PORT")),
        debug=debug,
        log_level=_parse_log_level(get("LOG_LEVEL"), debug=debug),
        cors_origins=_parse_origins(get("CORS_ORIGINS")),
        allowed_hosts=_parse_hosts(get("ALLOWED_HOSTS")),
        data_dir=Path(data_dir_text).expanduser() if data_dir_text else default_data_dir,
        plex_timeout=_parse_seconds("PLEX_TIMEOUT", get("PLEX_TIMEOUT"), default=DEFAULT_PLEX_TIMEOUT),
        plex_check_interval=_parse_seconds(
            "PLEX_CHECK_INTERVAL", get("PLEX_CHECK_INTERVAL"), default=DEFAULT_CHECK_INTERVAL
        ),
        index_refresh_interval=_parse_interval(
            "INDEX_REFRESH_INTERVAL", get("INDEX_REFRESH_INTERVAL"), default=DEFAULT_INDEX_REFRESH_INTERVAL
        ),
        server_threads=_parse_threads(get("SERVER_THREADS")),
        sync_import_dir=Path(text).expanduser() if (text := get("SYNC_IMPORT_DIR")) else None,
        sync_upload_max_bytes=_parse_upload_mb(get("SYNC_UPLOAD_MAX_MB")) << 20,
    )


def _parse_upload_mb(value: str | None) -> int:
    if value is None:
        return DEFAULT_SYNC_UPLOAD_MAX_MB
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 4096:
        raise SettingsError("SYNC_UPLOAD_MAX_MB", f"{value!r} is not a whole number of megabytes (1-4096)")
    return int(value)


def _parse_bool(name: str, value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SettingsError(name, f"{value!r} is not a boolean (use true or false)")


def _parse_port(value: str | None) -> int:
    if value is None:
        return DEFAULT_PORT
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError("PORT", f"{value!r} is not a port number (1-65535)")
    return int(value)


def _parse_threads(value: str | None) -> int:
    if value is None:
        return DEFAULT_SERVER_THREADS
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_SERVER_THREADS:
        raise SettingsError("SERVER_THREADS", f"{value!r} is not a whole number of threads (1-{MAX_SERVER_THREADS})")
    return int(value)


def _parse_server_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SettingsError("PLEX_SERVER_URL", f"{value!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "@" in parts.netloc:
        # A token pasted into the URL would end up in every log line; PLEX_TOKEN is the place for it.
        raise SettingsError(
            "PLEX_SERVER_URL", "must not carry credentials, a query string or a fragment (put the token in PLEX_TOKEN)"
        )
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily, on access
    except ValueError:
        raise SettingsError("PLEX_SERVER_URL", f"{value!r} has an invalid port") from None
    return value.rstrip("/")


def _parse_log_level(value: str | None, *, debug: bool) -> str:
    if value is None:
        return "DEBUG" if debug else "INFO"
    if value.upper() not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def _parse_origins(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CORS_ORIGINS
    origins: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        # Browsers send Origin as scheme://host[:port] in lower case with no path; anything else would never match.
        parts = urlsplit(item.lower())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or port == -1
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise SettingsError(
                "CORS_ORIGINS", f"{item!r} is not an origin like https://example.com or http://localhost:3000"
            )
        if parts.geturl() not in origins:
            origins.append(parts.geturl())
    return tuple(origins)


def _parse_hosts(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    hosts: list[str] = []
    for item in (part.strip().lower() for part in value.split(",")):
        if not item:
            continue
        if not _HOSTNAME.match(item):
            raise SettingsError("ALLOWED_HOSTS", f"{item!r} is not a host name (give names without scheme or port)")
        hosts.append(item.strip("[]"))
    return tuple(hosts)


def _parse_seconds(name: str, value: str | None, *, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86_400:
        raise SettingsError(name, f"{value!r} is not a number of seconds between 0 and 86400")
    return seconds


def _parse_interval(name: str, value: str | None, *, default: float) -> float:
    """Seconds between 0 (disabled) and one week."""
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 604_800:
        raise SettingsError(name, f"{value!r} is not a number of seconds between 0 (off) and 604800 (a week)")
    return seconds

"""The composition root: builds PlexM8's services from settings, choosing the real Plex server or demo mode.

This is the only module that names concrete adapters, and the only one in plexm8 that imports plexsim (for demo
mode). Building services sends nothing to Plex; :meth:`Services.start` starts the background connection checks.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from platformdirs import user_data_dir

from plexm8.config import Settings, load_settings
from plexm8.core.accounts import PlexAccount, account_key
from plexm8.core.catalog import SectionReader
from plexm8.core.jobs import JobStore
from plexm8.core.matching import MatchOutcome, PathMapping
from plexm8.core.models import PlexMode
from plexm8.core.ports import PlaylistGateway, PlexServerProbe
from plexm8.core.sources import SourceReport
from plexm8.errors import PlexAuthError, PlexM8Error, PlexUnavailable, SettingsError
from plexm8.importers import open_source
from plexm8.plex.connection import PlexApiConnection, plexapi_version
from plexm8.plex.library import PlexApiLibrary, PlexApiLibraryPool
from plexm8.plex.playlists import PlexApiPlaylists
from plexm8.plex.rating_writer import PlexRatingWriterPool
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.plex.sonic import PlexSonicNeighbours
from plexm8.services.health import ConnectionMonitor
from plexm8.services.jobs import JobRunner, PeriodicTask
from plexm8.services.library import LibraryIndex, ReaderFactory
from plexm8.services.matching import match_source
from plexm8.services.recommendations import RecommendationService
from plexm8.services.sync import SyncService
from plexm8.store import SqliteLibraryStore
from plexm8.store.jobs import SqliteJobStore
from plexm8.store.match_catalog import SqliteMatchCatalog
from plexm8.store.queries import SqliteLibraryQueries
from plexm8.store.recommend_inputs import SqliteRecommendationInputs
from plexm8.store.sync_store import SqliteSyncStore
from plexm8.store.tag_cache import TAG_CACHE_FILE, TagCache

__all__ = [
    "DATABASE_NAME",
    "JOBS_DATABASE_NAME",
    "Services",
    "build_services",
    "default_data_dir",
    "load_environment_settings",
    "make_data_dir",
    "open_job_store",
]

#: The one SQLite database in the data directory: the index, per-account state and job records.
DATABASE_NAME = "plexm8.sqlite"
#: Job records live apart from the index: a refresh holds the index database's write lock while it runs.
JOBS_DATABASE_NAME = "jobs.sqlite"

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """The platform's per-user data directory for PlexM8 (e.g. ``~/.local/share/plexm8`` on Linux)."""
    return Path(user_data_dir("plexm8", appauthor=False))


def load_environment_settings(environ: Mapping[str, str]) -> Settings:
    """:func:`plexm8.config.load_settings` with the platform defaults filled in."""
    return load_settings(environ, default_data_dir=default_data_dir())


class Services:
    """Everything the web app and the CLI use, wired together; close it to stop threads and the demo server."""

    def __init__(
        self,
        *,
        settings: Settings,
        mode: PlexMode,
        plex: PlexServerProbe,
        monitor: ConnectionMonitor,
        plex_api_version: str,
        closers: list[Callable[[], None]],
        store: SqliteLibraryStore,
        index: LibraryIndex,
        libraries: PlexApiLibraryPool,
        queries: SqliteLibraryQueries,
        jobs: JobRunner,
    ) -> None:
        #: The effective settings: in demo mode the Plex URL and token point at the built-in demo server.
        self.settings = settings
        self.mode = mode
        self.plex = plex
        self.monitor = monitor
        self.plex_api_version = plex_api_version
        #: The SQLite database (``<data_dir>/plexm8.sqlite``) holding the index.
        self.store = store
        #: The per-account index: ``index.ensure_account_indexed(account)`` before reading an account's data.
        self.index = index
        self._libraries = libraries
        #: The API's reads of the index (top rated, browse) and the write that records a new rating.
        self.queries = queries
        #: Long work (index refreshes) as recorded jobs: ``jobs.get(id)``, ``jobs.list()``, ``jobs.cancel(id)``.
        self.jobs = jobs
        recommend_inputs = SqliteRecommendationInputs(settings.data_dir / DATABASE_NAME)
        closers.append(recommend_inputs.close)
        #: Every account's recommendation model: built as jobs, kept in ``<data dir>/recommend``, read at queries.
        self.recommendations = RecommendationService(
            recommend_inputs,
            index,
            jobs,
            model_dir=settings.data_dir / "recommend",
            generation=queries.generation,
            sonic_for=lambda token: PlexSonicNeighbours(self.plex_for(token)),
        )
        # Rating sync: refreshes inline (a sync job holds a job worker while it refreshes, so it must not queue a
        # refresh job behind itself); matches through the importers and the match catalog of the index database.
        sync_catalog = SqliteMatchCatalog(settings.data_dir / DATABASE_NAME)
        closers.append(sync_catalog.close)
        sync_runs = SqliteSyncStore(settings.data_dir / DATABASE_NAME)
        closers.append(sync_runs.close)
        rating_writers = PlexRatingWriterPool(settings.plex_server_url or "", timeout=settings.plex_timeout)
        closers.append(rating_writers.close)
        sync_index = LibraryIndex(store, _reader_factory(settings.plex_server_url or "", timeout=settings.plex_timeout))

        tag_caches: list[TagCache] = []
        tag_cache_lock = threading.Lock()

        def tag_cache() -> TagCache:
            # Opened on the first tags sync only: most runs of PlexM8 never scan a folder.
            with tag_cache_lock:
                if not tag_caches:
                    tag_caches.append(TagCache(settings.data_dir / TAG_CACHE_FILE))
                    closers.append(tag_caches[0].close)
                return tag_caches[0]

        def match_export(
            account: str, kind: str, path: Path, path_mappings: Sequence[PathMapping] | None
        ) -> tuple[MatchOutcome, SourceReport]:
            if kind == "tags":
                source = open_source(kind, path, tag_cache=tag_cache())
            else:  # read in a worker process while the match catalog loads
                source = open_source(kind, path, read_ahead=True)
            return match_source(sync_catalog, account, source, kind, path_mappings=path_mappings), source.report

        def probe_export(kind: str, path: Path) -> None:
            tracks = open_source(kind, path).tracks()
            try:
                next(tracks, None)
            finally:
                close = getattr(tracks, "close", None)  # a generator: release its file now
                if close is not None:
                    close()

        #: Rating syncs from player exports: plan, apply and undo as jobs (``plexm8 sync``, ``/api/ratings/sync``).
        self.sync = SyncService(
            store=sync_runs,
            index=store,
            refresh=sync_index.refresh,
            writers=rating_writers.get,
            runner=jobs,
            match=match_export,
            probe=probe_export,
            remember=sync_catalog.remember,
        )
        self._auto_refresh: PeriodicTask | None = None
        if settings.index_refresh_interval > 0:
            self._auto_refresh = PeriodicTask(
                self._refresh_configured_account,
                interval=settings.index_refresh_interval,
                retry=min(settings.plex_check_interval, settings.index_refresh_interval),
                name="plexm8-index-refresh",
            )
        self._machine_identifier: str | None = None
        self._identity_lock = threading.Lock()
        self._closers = closers
        self._closed = False

    def plex_for(self, token: str) -> PlexApiLibrary:
        """The Plex server as the account owning ``token`` (lazily connected, pooled per token)."""
        return self._libraries.get(token)

    def playlists_for(self, token: str) -> PlaylistGateway:
        """The audio playlists of the account owning ``token`` (through its pooled Plex connection)."""
        return PlexApiPlaylists(self.plex_for(token))

    def machine_identifier(self, token: str) -> str:
        """The Plex server's machine id: from the latest background check, else asked with ``token`` once."""
        identity = self.monitor.status().identity
        if identity is not None:
            return identity.machine_identifier
        with self._identity_lock:
            if self._machine_identifier is None:
                self._machine_identifier = self.plex_for(token).identity().machine_identifier
            return self._machine_identifier

    def account_for(self, token: str | None) -> PlexAccount:
        """The account a request acts as: the owner of ``token``, or of the configured token when it is ``None``.

        Raises :class:`PlexAuthError` when there is no token at all, and what :meth:`machine_identifier` raises
        when the server's id is not known yet and Plex cannot be asked.
        """
        from_request = token is not None
        token = token if token is not None else self.settings.plex_token
        if not token:
            raise PlexAuthError("no Plex token: set PLEX_TOKEN or send 'Authorization: Bearer <token>'")
        return PlexAccount(
            key=account_key(self.machine_identifier(token), token), token=token, from_request=from_request
        )

    def start(self) -> None:
        """Start the background Plex checks and the automatic index refreshes; calling it again does nothing."""
        self.monitor.start()
        if self._auto_refresh is not None:
            self._auto_refresh.start()

    def _refresh_configured_account(self) -> bool:
        """Start a refresh job for the configured account; ``False`` when the account cannot be known yet."""
        try:
            account = self.account_for(None)
        except PlexM8Error as exc:
            log.warning("automatic index refresh postponed: %s", exc.message)
            return False
        # The model follows the index: a build queued behind the refresh ends at once when nothing changed.
        self.recommendations.after_refresh(account, self.index.start_refresh(account))
        return True

    def close(self) -> None:
        """Stop the checks, release connections and stop the demo server; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._auto_refresh is not None:
            self._auto_refresh.stop()
        self.monitor.stop()
        # Before the closers: a refresh still running is cancelled (and recorded interrupted) while Plex and the
        # database are still there.
        self.jobs.close(timeout=5.0)
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


@contextmanager
def open_job_store(settings: Settings) -> Iterator[JobStore]:
    """The job records in the data directory, without building services (no Plex, no demo server); closed after."""
    make_data_dir(settings)
    store = SqliteJobStore(settings.data_dir / JOBS_DATABASE_NAME)
    try:
        yield store
    finally:
        store.close()


def build_services(settings: Settings) -> Services:
    """Wire PlexM8 for ``settings``; with no ``plex_server_url`` start plexsim with the demo library (demo mode)."""
    make_data_dir(settings)

    closers: list[Callable[[], None]] = []
    mode = PlexMode.REAL
    url = settings.plex_server_url
    if url is None:
        mode = PlexMode.DEMO
        url = _start_demo_server(closers)
        settings = dataclasses.replace(settings, plex_server_url=url, plex_token=_demo_token(settings))

    connection = PlexApiConnection(url, settings.plex_token, timeout=settings.plex_timeout)
    closers.append(connection.close)
    monitor = ConnectionMonitor(connection, mode=mode, server_url=url, interval=settings.plex_check_interval)
    libraries = PlexApiLibraryPool(url, timeout=settings.plex_timeout)
    closers.append(libraries.close)
    store = SqliteLibraryStore(settings.data_dir / DATABASE_NAME)
    closers.append(store.close)
    queries = SqliteLibraryQueries(settings.data_dir / DATABASE_NAME)
    closers.append(queries.close)
    job_store = SqliteJobStore(settings.data_dir / JOBS_DATABASE_NAME)
    closers.append(job_store.close)
    jobs = JobRunner(job_store)
    index = LibraryIndex(store, _reader_factory(url, timeout=settings.plex_timeout), jobs)
    return Services(
        settings=settings,
        mode=mode,
        plex=connection,
        monitor=monitor,
        plex_api_version=plexapi_version(),
        closers=closers,
        store=store,
        index=index,
        libraries=libraries,
        queries=queries,
        jobs=jobs,
    )


def make_data_dir(settings: Settings) -> None:
    """Create the data directory; raises :class:`~plexm8.errors.SettingsError` naming it when that fails."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError("PLEXM8_DATA_DIR", f"cannot create {settings.data_dir}: {exc.strerror}") from None


def _reader_factory(url: str, *, timeout: float) -> ReaderFactory:
    """Open bulk section readers of the server at ``url``, one per refresh, closed when the refresh ends."""

    @contextmanager
    def open_reader(token: str) -> Iterator[SectionReader]:
        reader = PlexSectionReader(url, token, timeout=timeout)
        try:
            yield reader
        finally:
            reader.close()

    return open_reader


def _demo_token(settings: Settings) -> str:
    from plexsim.demo import DEMO_ADMIN_TOKEN

    if settings.plex_token:
        log.warning("PLEX_TOKEN is ignored in demo mode (no PLEX_SERVER_URL is set)")
    return DEMO_ADMIN_TOKEN


def _start_demo_server(closers: list[Callable[[], None]]) -> str:
    """Start plexsim with the demo library on a free loopback port; return its base URL."""
    # Imported here so that real mode never loads the simulator.
    from plexsim.demo import demo_library
    from plexsim.server import start_server

    try:
        server = start_server(demo_library(), host="127.0.0.1", port=0)
    except OSError as exc:
        raise PlexUnavailable(f"cannot start the demo Plex server: {exc.strerror or exc}") from None
    closers.append(server.stop)
    log.warning(
        "DEMO MODE: no PLEX_SERVER_URL is configured, so PlexM8 serves the built-in demo library "
        "from plexsim at %s; set PLEX_SERVER_URL and PLEX_TOKEN to use your Plex server",
        server.url,
    )
    return server.url.rstrip("/")

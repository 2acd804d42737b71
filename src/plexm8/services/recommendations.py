"""Recommendations in the product: build one model per account from the index as a job, keep it on disk, answer from it.

- **Inputs.** :func:`collect_signals` fills :class:`~plexm8.recommend.data.LibrarySignals` from the index: every
  track with artist, album, year and its genres/styles/moods (the album's when the track has none, then the
  artist's), the account's regular playlists, its listening sessions, ratings, play counts and last plays, Plex's sonic
  neighbours of a bounded set of the account's tracks (its best rated, then most played) when the server has them.
- **Sessions.** Play history is cut into sessions per listener and device: a play more than :data:`SESSION_GAP_S`
  (30 minutes) after the previous one starts a new session. Thirty minutes is longer than almost any track plus a
  pause and shorter than the gap between two listening occasions; the same track played again at once counts once.
  A session is also closed after :data:`MAX_SESSION_TRACKS` (50) tracks: a player left running all day is not one
  occasion. Sessions of one play carry no co-occurrence and are dropped.
- **Builds** run as ``recommend_build`` jobs (one per account at a time; a second request joins the first), on
  demand (``POST /api/recommendations/build``, ``plexm8 recommend build``) and whenever a query finds that the
  index changed since the model was built (a refresh that changed something, a rating written through PlexM8) and
  the model is older than :data:`MIN_REBUILD_S` (5 minutes); the old model keeps answering until the new one is in
  place.
- **Storage.** ``<data dir>/recommend/<account key>.model`` (the model's own format) and ``.json`` (when it was
  built, from which index state), each written to a temporary file and moved into place with ``os.replace``, so a
  crash never leaves a half-written model. A new process loads the file on first use without rebuilding.
- **No model yet.** The first query of an account starts a build and waits up to ``first_build_wait`` seconds for
  it (a small library is ready by then); when the build takes longer the query fails with 503
  ``recommendations_not_ready`` naming the build job, and the caller retries once the job has finished.
- **Queries** read only the loaded model and the index's per-key reads, never Plex: with Plex down they still answer.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from plexm8.core.accounts import PlexAccount
from plexm8.core.jobs import JobControl, JobOutcome, JobRecord, JobState
from plexm8.core.ports import RecommendationInputs, SonicNeighbours
from plexm8.core.tracks import TrackView
from plexm8.errors import PlexM8Error, RecommendationsNotReady, TrackNotFound, ValidationError
from plexm8.recommend.data import LibrarySignals, Recommendation, TrackInfo, UserSignals
from plexm8.recommend.model import RecommendationModel, build_model
from plexm8.services.jobs import JobRunner
from plexm8.services.library import LibraryIndex

__all__ = [
    "MAX_LIMIT",
    "MAX_SEEDS",
    "MAX_SESSION_TRACKS",
    "RECOMMEND_BUILD_JOB",
    "SESSION_GAP_S",
    "ModelStatus",
    "RecommendationService",
    "RecommendedTrack",
    "collect_signals",
    "cut_sessions",
    "sonic_neighbours",
]

log = logging.getLogger(__name__)

#: The job kind of model builds.
RECOMMEND_BUILD_JOB = "recommend_build"
#: A pause longer than this (seconds) between two plays of one listener on one device starts a new session.
SESSION_GAP_S = 30 * 60
#: A session is closed after this many tracks and the next play starts a new one: a player left running for days
#: is not one listening occasion, and co-occurrence should stay between tracks heard close together.
MAX_SESSION_TRACKS = 50
#: How many of the account's tracks get Plex's sonic neighbours at each build (one request each).
SONIC_TRACKS = 100
#: Neighbours asked per track, and the farthest accepted (Plex's own default distance).
SONIC_NEIGHBOURS = 20
SONIC_MAX_DISTANCE = 0.25
#: Sonic requests in flight at once during a build.
SONIC_WORKERS = 4
#: Largest ``limit`` of one query, and most seed tracks (after album and artist expansion).
MAX_LIMIT = 500
MAX_SEEDS = 1_000
#: Seconds between two checks of whether the index moved on since the model was built (per account).
STALE_CHECK_S = 2.0
#: A model younger than this (seconds) is not rebuilt by itself: rating tracks one after another in the web app
#: would otherwise keep a big library's build running back to back. ``POST /api/recommendations/build`` always builds.
MIN_REBUILD_S = 300.0
_SECONDS_PER_DAY = 86_400
_MODEL_SUFFIX = ".model"
_META_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class RecommendedTrack:
    """One answer: the track with the account's state, its score (higher = better) and a short human reason."""

    track: TrackView
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """An account's model: when it was built and from what, and the build job queued or running now."""

    built: bool
    built_at: float | None
    build_seconds: float | None
    file_bytes: int | None
    tracks: int | None
    playlists: int | None
    sessions: int | None
    sonic_tracks: int | None
    current: bool
    running_job: JobRecord | None
    last_job: JobRecord | None


@dataclass(slots=True)
class _Loaded:
    """An account's model in memory with what queries need beside it."""

    model: RecommendationModel
    meta: dict[str, object]
    #: ``(last_viewed_at, rating_key)`` of every played track, sorted: "played in the last N days" is a bisect.
    played: list[tuple[int, int]] = field(default_factory=list)
    played_generation: int | None = None
    #: When the index was last compared with the model, and the database generation it had then.
    checked_at: float = 0.0
    checked_generation: int | None = None


def cut_sessions(
    plays: Iterable[tuple[int, int, int | None, int | None]],
    *,
    gap_s: int = SESSION_GAP_S,
    max_tracks: int = MAX_SESSION_TRACKS,
) -> list[list[int]]:
    """Listening sessions from ``(viewed_at, rating_key, listener, device)`` plays sorted by time (module docstring)."""
    open_sessions: dict[tuple[int | None, int | None], tuple[int, list[int]]] = {}
    done: list[list[int]] = []
    for viewed_at, key, listener, device in plays:
        who = (listener, device)
        current = open_sessions.get(who)
        if current is not None and viewed_at - current[0] <= gap_s and len(current[1]) < max_tracks:
            keys = current[1]
            if keys[-1] != key:
                keys.append(key)
            open_sessions[who] = (viewed_at, keys)
            continue
        if current is not None and len(current[1]) > 1:
            done.append(current[1])
        open_sessions[who] = (viewed_at, [key])
    done.extend(keys for _, keys in open_sessions.values() if len(keys) > 1)
    return done


def _sonic_candidates(user: UserSignals, count: int) -> list[int]:
    """The account's tracks whose sonic neighbours matter most: liked ones by rating, then the most played."""
    plays = user.play_counts
    liked = sorted(
        (key for key, rating in user.ratings.items() if rating >= 6),
        key=lambda key: (-user.ratings[key], -plays.get(key, 0), key),
    )
    played = sorted(plays, key=lambda key: (-plays[key], key))
    chosen: dict[int, None] = {}
    for key in (*liked, *played):
        if len(chosen) >= count:
            break
        chosen.setdefault(key, None)
    return list(chosen)


def sonic_neighbours(
    sonic: SonicNeighbours, signals: LibrarySignals, *, tracks: int = SONIC_TRACKS
) -> dict[int, list[tuple[int, float]]]:
    """Plex's sonic neighbours of the account's ``tracks`` best rated, then most played tracks (indexed ones only).

    One request per track, :data:`SONIC_WORKERS` at a time. Plex failing (down, refusing) only means no sonic data:
    the model is built without it and the failure is logged.
    """
    known = {track.key for track in signals.tracks}

    def one(key: int) -> tuple[int, list[tuple[int, float]]]:
        found = sonic.nearest(key, limit=SONIC_NEIGHBOURS, max_distance=SONIC_MAX_DISTANCE)
        return key, [(other, distance) for other, distance in found if other in known]

    out: dict[int, list[tuple[int, float]]] = {}
    try:
        with ThreadPoolExecutor(max_workers=SONIC_WORKERS, thread_name_prefix="plexm8-sonic") as pool:
            for key, neighbours in pool.map(one, _sonic_candidates(signals.user, tracks)):
                if neighbours:
                    out[key] = neighbours
    except PlexM8Error as exc:
        log.warning("building recommendations without Plex's sonic data: %s", exc.message)
        return {}
    return out


def collect_signals(
    inputs: RecommendationInputs, account: str, *, session_gap_s: int = SESSION_GAP_S
) -> LibrarySignals:
    """Everything the account's model is built from that the index holds (all but Plex's sonic data)."""
    tags: dict[int, dict[str, list[str]]] = {}
    for key, kind, tag in inputs.tags():
        tags.setdefault(key, {}).setdefault(kind, []).append(tag)

    def tag_tuple(kind: str, *keys: int | None) -> tuple[str, ...]:
        # The track's own tags, else its album's, else its artist's: Plex tags albums and artists far more often.
        for key in keys:
            if key is not None:
                found = tags.get(key, {}).get(kind)
                if found:
                    return tuple(found)
        return ()

    tracks = [
        TrackInfo(
            key=key,
            title=title,
            artist=artist or "",
            album=album,
            artist_key=artist_key,
            album_key=album_key,
            year=year,
            duration_ms=duration_ms,
            genres=tag_tuple("genre", key, album_key, artist_key),
            styles=tag_tuple("style", key, album_key, artist_key),
            moods=tag_tuple("mood", key, album_key, artist_key),
        )
        for key, title, artist, album, artist_key, album_key, year, duration_ms in inputs.tracks()
    ]
    known = {track.key for track in tracks}
    states = inputs.track_states(account)
    ratings = {key: rating for key, rating, _, _ in states if rating is not None}
    play_counts = {key: count for key, _, count, _ in states if count > 0}
    last_played = {key: last for key, _, _, last in states if last is not None}
    playlists = [[key for key in items if key in known] for items in inputs.playlists(account)]
    sessions = cut_sessions(inputs.plays(account), gap_s=session_gap_s)
    return LibrarySignals(
        tracks=tracks,
        playlists=[items for items in playlists if items],
        sessions=sessions,
        user=UserSignals(ratings=ratings, play_counts=play_counts, last_played=last_played),
    )


class RecommendationService:
    """Every account's recommendation model: built as jobs by ``runner``, kept in ``model_dir``, answered from memory.

    ``sonic_for(token)`` gives Plex's sonic neighbours as that account (``None``: never ask Plex for them);
    ``generation()`` moves on whenever the index database may have changed (see ``SqliteLibraryQueries``).
    """

    def __init__(
        self,
        inputs: RecommendationInputs,
        index: LibraryIndex,
        runner: JobRunner,
        *,
        model_dir: Path,
        generation: Callable[[], int],
        sonic_for: Callable[[str], SonicNeighbours] | None = None,
        sonic_tracks: int = SONIC_TRACKS,
        first_build_wait: float = 10.0,
        stale_check_s: float = STALE_CHECK_S,
        min_rebuild_s: float = MIN_REBUILD_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inputs = inputs
        self._index = index
        self._runner = runner
        self._dir = model_dir
        self._generation = generation
        self._sonic_for = sonic_for
        self._sonic_tracks = sonic_tracks
        #: Seconds the first query of an account without a model waits for the build it starts.
        self.first_build_wait = first_build_wait
        self._stale_check_s = stale_check_s
        self._min_rebuild_s = min_rebuild_s
        self._clock = clock
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}

    # --- files ---------------------------------------------------------------------------------------------

    def model_path(self, account: str) -> Path:
        """Where the account's model file lives (account keys are hex digests: safe as file names)."""
        return self._dir / f"{account}{_MODEL_SUFFIX}"

    def _meta_path(self, account: str) -> Path:
        return self._dir / f"{account}{_META_SUFFIX}"

    def _read_meta(self, account: str) -> dict[str, object] | None:
        try:
            meta = json.loads(self._meta_path(account).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _save(self, account: str, model: RecommendationModel, meta: dict[str, object]) -> int:
        """Write model and metadata each to a temporary file, then move both into place; return the model's size."""
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self.model_path(account)
        meta_path = self._meta_path(account)
        tmp_model = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            model.save(tmp_model)
            size = tmp_model.stat().st_size
            meta = {**meta, "file_bytes": size}
            tmp_meta.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
            # Model first: a crash between the two leaves the old metadata, whose signature then asks for a rebuild.
            os.replace(tmp_model, path)
            os.replace(tmp_meta, meta_path)
        finally:
            tmp_model.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
        return size

    # --- builds --------------------------------------------------------------------------------------------

    def start_build(self, account: PlexAccount) -> JobRecord:
        """Start building the account's model as a job (or join the one queued or running); return it now.

        An account never indexed gets its index refresh started first; the build waits for it.
        """
        refresh = None if self._index.is_indexed(account) else self._index.start_refresh(account)
        return self._runner.submit(RECOMMEND_BUILD_JOB, account.key, self._build_job(account, refresh))

    def build(self, account: PlexAccount) -> JobRecord:
        """Build the account's model now as a job and wait for it; return the succeeded job.

        Raises the job's error (e.g. :class:`~plexm8.errors.PlexUnavailable` when an index had to be built first).
        """
        record = self.start_build(account)
        final = self._runner.wait(record.id)
        if final.state is not JobState.SUCCEEDED:
            raise PlexM8Error(final.error_message or f"the build job {final.id} {final.state.value}")
        return final

    def after_refresh(self, account: PlexAccount, refresh: JobRecord) -> JobRecord:
        """Queue a build that waits for the index refresh job ``refresh`` and rebuilds only if the index changed.

        For whoever starts refreshes (the automatic refresh of the configured account): the job ends at once,
        recording ``{"rebuilt": false}`` and why, when the refresh failed or left the model's inputs as they were.
        An account without a model gets one.
        """
        return self._runner.submit(
            RECOMMEND_BUILD_JOB, account.key, self._build_job(account, refresh, only_if_changed=True)
        )

    def _build_job(
        self, account: PlexAccount, refresh: JobRecord | None, *, only_if_changed: bool = False
    ) -> Callable[[JobControl], JobOutcome]:
        def work(control: JobControl) -> JobOutcome:
            if refresh is not None:
                control.progress("index", 0, None)
                indexed = self._runner.wait(refresh.id)
                if indexed.state is not JobState.SUCCEEDED:
                    if only_if_changed:
                        return _skipped(f"the index refresh (job {indexed.id}) {indexed.state.value}")
                    raise PlexM8Error(
                        f"the account's index could not be built (job {indexed.id} {indexed.state.value}): "
                        f"{indexed.error_message or 'no reason recorded'}"
                    )
            if only_if_changed:
                meta = self._current_meta(account.key)
                if meta is not None and meta.get("signature") == self._inputs.signature(account.key):
                    return _skipped("the index did not change since the model was built")
            return self._build_now(account, control)

        return work

    def _current_meta(self, account: str) -> Mapping[str, object] | None:
        """The metadata of the account's model in memory, else of its file; ``None`` when it has none."""
        with self._lock:
            loaded = self._loaded.get(account)
        if loaded is not None:
            return loaded.meta
        return self._read_meta(account) if self.model_path(account).is_file() else None

    def _build_now(self, account: PlexAccount, control: JobControl) -> JobOutcome:
        started = time.perf_counter()
        control.progress("signals", 0, None)
        signature = self._inputs.signature(account.key)
        if signature is None:
            raise PlexM8Error("the account has no index yet; refresh it first")
        signals = collect_signals(self._inputs, account.key)
        read_at = time.perf_counter()
        if self._sonic_for is not None and self._sonic_tracks > 0:
            control.progress("sonic", 0, None)
            sonic = sonic_neighbours(self._sonic_for(account.token), signals, tracks=self._sonic_tracks)
            signals = dataclasses.replace(signals, sonic=sonic)
        sonic_at = time.perf_counter()
        control.progress("model", 0, None)

        def progress(stage: str, done: int, total: int | None) -> None:
            control.progress(f"model: {stage}", done, total)

        model = build_model(signals, progress=progress, should_stop=lambda: control.cancel_requested)
        control.progress("saving", 0, None)
        modelled_at = time.perf_counter()
        meta: dict[str, object] = {
            "signature": signature,
            "built_at": self._clock(),
            "build_seconds": round(modelled_at - started, 3),
            "tracks": len(signals.tracks),
            "playlists": len(signals.playlists),
            "sessions": len(signals.sessions),
            "sonic_tracks": len(signals.sonic),
            "ratings": len(signals.user.ratings),
        }
        size = self._save(account.key, model, meta)
        meta["file_bytes"] = size
        seconds = time.perf_counter() - started
        with self._lock:
            self._loaded[account.key] = _Loaded(model, meta, checked_at=time.monotonic())
        log.info("recommendation model of %s built in %.1f s (%d tracks)", account.key, seconds, len(signals.tracks))
        return JobOutcome(
            counts={
                "tracks": len(signals.tracks),
                "playlists": len(signals.playlists),
                "sessions": len(signals.sessions),
                "sonic_tracks": len(signals.sonic),
                "ratings": len(signals.user.ratings),
            },
            result={
                "seconds": round(seconds, 3),
                "read_seconds": round(read_at - started, 3),
                "sonic_seconds": round(sonic_at - read_at, 3),
                "model_seconds": round(modelled_at - sonic_at, 3),
                "save_seconds": round(seconds - (modelled_at - started), 3),
                "file_bytes": size,
            },
        )

    # --- the loaded model ----------------------------------------------------------------------------------

    def _load_lock(self, account: str) -> threading.Lock:
        with self._lock:
            return self._load_locks.setdefault(account, threading.Lock())

    def _from_disk(self, account: str) -> _Loaded | None:
        meta = self._read_meta(account)
        path = self.model_path(account)
        if meta is None or not path.is_file():
            return None
        try:
            model = RecommendationModel.load(path)
        except (OSError, ValueError) as exc:
            log.warning("the recommendation model at %s cannot be read (%s); it will be rebuilt", path, exc)
            return None
        return _Loaded(model, meta)

    def _model(self, account: PlexAccount) -> _Loaded:
        """The account's loaded model (from memory, else from disk, else built now or a 503 naming the build)."""
        with self._lock:
            loaded = self._loaded.get(account.key)
        if loaded is None:
            with self._load_lock(account.key):
                with self._lock:
                    loaded = self._loaded.get(account.key)
                if loaded is None:
                    loaded = self._from_disk(account.key)
                    if loaded is not None:
                        with self._lock:
                            self._loaded[account.key] = loaded
        if loaded is None:
            return self._first_build(account)
        self._rebuild_if_stale(account, loaded)
        return loaded

    def _first_build(self, account: PlexAccount) -> _Loaded:
        job = self.start_build(account)
        final = self._runner.wait(job.id, timeout=self.first_build_wait)
        with self._lock:
            loaded = self._loaded.get(account.key)
        if loaded is not None:
            return loaded
        if final.state.final:
            reason = final.error_message or f"it {final.state.value}"
            raise RecommendationsNotReady(
                f"building your recommendations failed (job {final.id}): {reason}", job_id=final.id
            )
        raise RecommendationsNotReady(
            f"your recommendations are being built (job {final.id}, /api/jobs/{final.id}); "
            "ask again when that job has finished",
            job_id=final.id,
        )

    def _rebuild_if_stale(self, account: PlexAccount, loaded: _Loaded) -> None:
        """Start a rebuild when the index changed since the model was built.

        Cheap on the query path: nothing is read unless the database changed since the last check (its generation
        moved) and the last check is a few seconds old; only then is the index's signature (a few scans) compared.
        """
        now = time.monotonic()
        if now - loaded.checked_at < self._stale_check_s:
            return
        generation = self._generation()
        if generation == loaded.checked_generation:
            return
        loaded.checked_at = now
        built_at = loaded.meta.get("built_at")
        if isinstance(built_at, int | float) and self._clock() - built_at < self._min_rebuild_s:
            return
        if self._runner.find_unfinished(RECOMMEND_BUILD_JOB, account.key) is not None:
            return
        signature = self._inputs.signature(account.key)
        if signature is not None and signature != loaded.meta.get("signature"):
            log.info("the index of %s changed since its recommendation model was built; rebuilding", account.key)
            self.start_build(account)
        loaded.checked_generation = generation

    def _played_since(self, account: str, loaded: _Loaded, days: float) -> set[int]:
        generation = self._generation()
        if loaded.played_generation != generation:
            loaded.played = sorted((last, key) for key, _, _, last in self._inputs.track_states(account) if last)
            loaded.played_generation = generation
        cutoff = int(self._clock() - days * _SECONDS_PER_DAY)
        start = bisect.bisect_left(loaded.played, (cutoff, -1))
        return {key for _, key in loaded.played[start:]}

    # --- queries -------------------------------------------------------------------------------------------

    def similar(
        self,
        account: PlexAccount,
        *,
        track_keys: Sequence[int] = (),
        album_keys: Sequence[int] = (),
        artist_keys: Sequence[int] = (),
        limit: int = 50,
        exclude_played_days: float | None = None,
        per_artist: int | None = None,
        novelty: float = 0.0,
    ) -> list[RecommendedTrack]:
        """Tracks like the seeds (tracks, and the tracks of the albums and artists given), best first.

        Raises :class:`ValidationError` without seeds or with bad options, :class:`TrackNotFound` for a seed the
        index does not know, and :class:`RecommendationsNotReady` while the first model is being built.
        """
        _check_options(limit, exclude_played_days, per_artist, novelty)
        if not (track_keys or album_keys or artist_keys):
            raise ValidationError("give at least one seed: track_key, album_key or artist_key", field="track_key")
        # The model first: for an account never indexed, its first build also builds the index the seeds are in.
        loaded = self._model(account)
        seeds = list(dict.fromkeys(track_keys))
        known = self._inputs.track_views(account.key, seeds)
        missing = [key for key in seeds if key not in known]
        if missing:
            raise TrackNotFound(f"no track has the key /library/metadata/{missing[0]}")
        for key in album_keys:
            seeds.extend(self._tracks_of("album", self._inputs.track_keys_of(album_keys=[key]), key))
        for key in artist_keys:
            seeds.extend(self._tracks_of("artist", self._inputs.track_keys_of(artist_keys=[key]), key))
        seeds = list(dict.fromkeys(seeds))[:MAX_SEEDS]
        usable = [key for key in seeds if loaded.model.knows(key)]
        if not usable:
            # The seeds came into the index after the build: a rebuild (even of a young model) will know them.
            job = self.start_build(account)
            raise RecommendationsNotReady(
                f"the seed tracks were added after your recommendations were built; they are being rebuilt "
                f"(job {job.id}, /api/jobs/{job.id})",
                job_id=job.id,
            )
        exclude = self._exclusions(account.key, loaded, exclude_played_days)
        found = loaded.model.similar(usable, limit=limit, exclude=exclude, per_artist=per_artist, novelty=novelty)
        return self._answer(account.key, found, limit)

    def for_user(
        self,
        account: PlexAccount,
        *,
        limit: int = 50,
        exclude_played_days: float | None = None,
        per_artist: int | None = None,
        novelty: float = 0.0,
    ) -> list[RecommendedTrack]:
        """Unrated or long-unplayed tracks for the account's taste, best first (low ratings push tracks down)."""
        _check_options(limit, exclude_played_days, per_artist, novelty)
        loaded = self._model(account)
        exclude = self._exclusions(account.key, loaded, exclude_played_days)
        found = loaded.model.for_user(limit=limit, exclude=exclude, per_artist=per_artist, novelty=novelty)
        return self._answer(account.key, found, limit)

    @staticmethod
    def _tracks_of(kind: str, tracks: list[int], key: int) -> list[int]:
        if not tracks:
            raise TrackNotFound(f"no {kind} with tracks has the key /library/metadata/{key}")
        return tracks

    def _exclusions(self, account: str, loaded: _Loaded, days: float | None) -> frozenset[int]:
        return frozenset() if days is None else frozenset(self._played_since(account, loaded, days))

    def _answer(self, account: str, found: Sequence[Recommendation], limit: int) -> list[RecommendedTrack]:
        views = self._inputs.track_views(account, [rec.key for rec in found])
        # A track deleted from Plex since the build is skipped (the index no longer has it).
        return [RecommendedTrack(views[rec.key], rec.score, rec.reason) for rec in found if rec.key in views][:limit]

    # --- status --------------------------------------------------------------------------------------------

    def status(self, account: PlexAccount) -> ModelStatus:
        """The account's model as built (from memory or its file) and its build jobs; never builds or asks Plex."""
        meta = self._current_meta(account.key)
        jobs = self._runner.list(kind=RECOMMEND_BUILD_JOB, account=account.key, limit=20)
        running = next((job for job in jobs if not job.state.final), None)
        last = next((job for job in jobs if job.state.final), None)
        current = meta is not None and meta.get("signature") == self._inputs.signature(account.key)

        def number(name: str) -> int | None:
            value = meta.get(name) if meta is not None else None
            return int(value) if isinstance(value, int | float) else None

        def seconds(name: str) -> float | None:
            value = meta.get(name) if meta is not None else None
            return float(value) if isinstance(value, int | float) else None

        return ModelStatus(
            built=meta is not None,
            built_at=seconds("built_at"),
            build_seconds=seconds("build_seconds"),
            file_bytes=number("file_bytes"),
            tracks=number("tracks"),
            playlists=number("playlists"),
            sessions=number("sessions"),
            sonic_tracks=number("sonic_tracks"),
            current=current,
            running_job=running,
            last_job=last,
        )


def _skipped(reason: str) -> JobOutcome:
    return JobOutcome(counts={}, result={"rebuilt": False, "reason": reason})


def _check_options(limit: int, exclude_played_days: float | None, per_artist: int | None, novelty: float) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if exclude_played_days is not None and not 0 <= exclude_played_days <= 36_500:
        raise ValidationError("exclude_played_days must be between 0 and 36500", field="exclude_played_days")
    if per_artist is not None and per_artist < 1:
        raise ValidationError("per_artist must be at least 1", field="per_artist")
    if not 0.0 <= novelty <= 1.0:
        raise ValidationError("novelty must be between 0 and 1", field="novelty")

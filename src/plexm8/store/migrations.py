"""Ordered, named, versioned schema migrations, recorded in the database they were applied to.

Each migration runs in its own transaction together with the row that records it, so a crash leaves the schema
at the previous version, never half-way. Applied migrations are never edited: a change is a new migration.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["JOB_MIGRATIONS", "MIGRATIONS", "Migration", "migrate", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version number, a stable name, and the function applying it."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (``executescript`` would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _create_library_index(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE artists (
            rating_key  INTEGER PRIMARY KEY,
            title       TEXT NOT NULL,
            sort_title  TEXT,
            added_at    INTEGER,
            updated_at  INTEGER
        );
        CREATE TABLE albums (
            rating_key   INTEGER PRIMARY KEY,
            artist_key   INTEGER,
            artist_title TEXT,
            title        TEXT NOT NULL,
            year         INTEGER,
            studio       TEXT,
            added_at     INTEGER,
            updated_at   INTEGER
        );
        CREATE INDEX albums_artist ON albums (artist_key);
        CREATE TABLE tracks (
            rating_key   INTEGER PRIMARY KEY,
            album_key    INTEGER,
            artist_key   INTEGER,
            title        TEXT NOT NULL,
            album_title  TEXT,
            artist_title TEXT,
            track_artist TEXT,
            disc_number  INTEGER,
            track_number INTEGER,
            duration_ms  INTEGER,
            year         INTEGER,
            added_at     INTEGER,
            updated_at   INTEGER
        );
        CREATE INDEX tracks_album ON tracks (album_key, disc_number, track_number);
        CREATE INDEX tracks_artist ON tracks (artist_key);
        -- Every part of every media version: rating imports match tracks by file path.
        CREATE TABLE track_files (
            rating_key INTEGER NOT NULL REFERENCES tracks (rating_key) ON DELETE CASCADE,
            position   INTEGER NOT NULL,
            path       TEXT NOT NULL,
            PRIMARY KEY (rating_key, position)
        ) WITHOUT ROWID;
        CREATE INDEX track_files_path ON track_files (path);
        -- Genres, styles and moods of artists, albums and tracks (one rating key space for all three).
        CREATE TABLE item_tags (
            rating_key INTEGER NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('genre', 'style', 'mood')),
            position   INTEGER NOT NULL,
            tag        TEXT NOT NULL,
            PRIMARY KEY (rating_key, kind, position)
        ) WITHOUT ROWID;
        CREATE INDEX item_tags_tag ON item_tags (kind, tag);
        CREATE TABLE accounts (
            account      TEXT PRIMARY KEY,
            section_id   INTEGER NOT NULL,
            section_uuid TEXT NOT NULL,
            cursor       TEXT NOT NULL,
            refreshed_at INTEGER NOT NULL
        );
        -- Only non-default states are stored: a missing row means unrated, never played, never skipped.
        CREATE TABLE item_states (
            account        TEXT NOT NULL REFERENCES accounts (account) ON DELETE CASCADE,
            rating_key     INTEGER NOT NULL,
            user_rating    REAL,
            last_rated_at  INTEGER,
            view_count     INTEGER NOT NULL DEFAULT 0,
            last_viewed_at INTEGER,
            skip_count     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (account, rating_key)
        ) WITHOUT ROWID;
        CREATE INDEX item_states_rated ON item_states (account, user_rating) WHERE user_rating IS NOT NULL;
        CREATE TABLE playlists (
            account     TEXT NOT NULL REFERENCES accounts (account) ON DELETE CASCADE,
            rating_key  INTEGER NOT NULL,
            title       TEXT NOT NULL,
            smart       INTEGER NOT NULL,
            summary     TEXT NOT NULL,
            leaf_count  INTEGER NOT NULL,
            duration_ms INTEGER,
            added_at    INTEGER,
            updated_at  INTEGER,
            PRIMARY KEY (account, rating_key)
        );
        CREATE TABLE playlist_items (
            account          TEXT NOT NULL,
            playlist_key     INTEGER NOT NULL,
            position         INTEGER NOT NULL,
            rating_key       INTEGER NOT NULL,
            playlist_item_id INTEGER,
            PRIMARY KEY (account, playlist_key, position),
            FOREIGN KEY (account, playlist_key) REFERENCES playlists (account, rating_key) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE TABLE plays (
            account         TEXT NOT NULL REFERENCES accounts (account) ON DELETE CASCADE,
            history_id      INTEGER NOT NULL,
            rating_key      INTEGER NOT NULL,
            viewed_at       INTEGER NOT NULL,
            plex_account_id INTEGER,
            device_id       INTEGER,
            PRIMARY KEY (account, history_id)
        ) WITHOUT ROWID;
        CREATE INDEX plays_viewed ON plays (account, viewed_at);
        """,
    )


def _create_jobs(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Long-running work and its outcome: times in epoch seconds, counts and result as JSON.
        CREATE TABLE jobs (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            kind             TEXT NOT NULL,
            account          TEXT,
            state            TEXT NOT NULL
                             CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            owner            TEXT NOT NULL,
            created_at       REAL NOT NULL,
            started_at       REAL,
            finished_at      REAL,
            stage            TEXT,
            done             INTEGER NOT NULL DEFAULT 0,
            total            INTEGER,
            counts           TEXT NOT NULL DEFAULT '{}',
            error_code       TEXT,
            error_message    TEXT,
            result           TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('queued', 'running');
        CREATE INDEX jobs_kind ON jobs (kind, id)
        """,
    )


def _add_track_browse(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Top-rated reads walk this index in order and stop at the limit: no sort, no scan of unrated rows.
        CREATE INDEX item_states_top_rated ON item_states (account, user_rating DESC, last_rated_at DESC)
            WHERE user_rating IS NOT NULL;
        -- Title, artist and album of each track case- and accent-folded for search, kept in step with tracks by
        -- the query layer (rows whose updated_at differs are folded again), so the index build pays nothing.
        CREATE TABLE track_search (
            rating_key INTEGER PRIMARY KEY,
            updated_at INTEGER,
            folded     TEXT NOT NULL
        );
        CREATE TABLE track_search_state (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            generation TEXT NOT NULL
        )
        """,
    )


def _add_match_memory(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Matches remembered after a sync, so the next one finds the track again even if its metadata or path
        -- changed: keyed by the source's own id ("id:...") or its normalised location ("path:...").
        CREATE TABLE match_memory (
            account     TEXT NOT NULL REFERENCES accounts (account) ON DELETE CASCADE,
            source_kind TEXT NOT NULL,
            source_key  TEXT NOT NULL,
            rating_key  INTEGER NOT NULL,
            method      TEXT NOT NULL,
            matched_at  INTEGER NOT NULL,
            PRIMARY KEY (account, source_kind, source_key)
        ) WITHOUT ROWID
        """,
    )


def _add_sync_journal(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Rating syncs: one run per planned sync, its plan items, and the journal of every write (issue 4).
        CREATE TABLE sync_runs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            account     TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            source_name TEXT NOT NULL,
            policy      TEXT NOT NULL,
            winner      TEXT,
            state       TEXT NOT NULL
                        CHECK (state IN ('planned', 'applying', 'applied', 'undoing', 'undone')),
            created_at  REAL NOT NULL,
            applied_at  REAL,
            undone_at   REAL,
            job_id      INTEGER,
            counts      TEXT NOT NULL,
            options     TEXT NOT NULL
        );
        CREATE INDEX sync_runs_account ON sync_runs (account, id);
        -- The journal lives in the plan rows: the previous Plex value is recorded before the write is sent, and
        -- journal_state moves planned -> written (sent, outcome unknown) -> confirmed (Plex shows it).
        CREATE TABLE sync_items (
            run_id            INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
            position          INTEGER NOT NULL,
            kind              TEXT NOT NULL CHECK (kind IN ('matched', 'review', 'unmatched')),
            action            TEXT,
            rating_key        INTEGER,
            method            TEXT,
            confidence        REAL,
            reason            TEXT NOT NULL,
            source            TEXT NOT NULL,
            source_rating     INTEGER,
            plex_rating       INTEGER,
            target            INTEGER,
            candidates        TEXT,
            journal_state     TEXT
                              CHECK (journal_state IN ('planned', 'written', 'confirmed', 'stale', 'failed')),
            previous_rating   REAL,
            previous_rated_at INTEGER,
            written_at        REAL,
            undo_state        TEXT CHECK (undo_state IN ('undone', 'refused')),
            message           TEXT,
            PRIMARY KEY (run_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX sync_items_journal ON sync_items (run_id, journal_state) WHERE journal_state IS NOT NULL
        """,
    )


def _drop_plays_viewed(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Plays are read in viewed_at order only by a recommendation model build, which sorts them once (about
        -- 0.2 s for 300,000 against a minute of building). The index cost every full build 0.2 s to make, and the
        -- latest play, which the model's input signature wanted from it, is in the refresh cursor.
        DROP INDEX IF EXISTS plays_viewed
        """,
    )


#: Every migration of the index database (``plexm8.sqlite``), in order. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create_library_index", _create_library_index),
    Migration(2, "add_track_browse", _add_track_browse),
    Migration(3, "add_match_memory", _add_match_memory),
    Migration(4, "add_sync_journal", _add_sync_journal),
    Migration(5, "drop_plays_viewed", _drop_plays_viewed),
)

#: Every migration of the job database (``jobs.sqlite``), in order. Append only. Jobs live in their own file
#: because an index refresh holds the index database's write lock for its whole transaction, and a job's progress
#: must be writable (and readable from another process, e.g. ``plexm8 jobs``) while that refresh runs.
JOB_MIGRATIONS: tuple[Migration, ...] = (Migration(1, "create_jobs", _create_jobs),)


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration version applied to the database (0 for a new one)."""
    _ensure_table(conn)
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply the migrations the database has not seen yet, each in its own transaction; return their names.

    ``conn`` must be in autocommit mode (see :func:`plexm8.store.database.connect`). A database newer than this
    code (an unknown version recorded) is refused rather than silently used.
    """
    applied: list[str] = []
    known = {m.version for m in migrations}
    current = schema_version(conn)
    if current and current not in known:
        raise sqlite3.DatabaseError(f"database schema version {current} is newer than this PlexM8 knows")
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone()
            if done:
                conn.execute("ROLLBACK")
                continue
            migration.apply(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(time.time())),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied

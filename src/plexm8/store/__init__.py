"""The SQLite adapter: the only package that imports sqlite3; it implements the LibraryStore port."""

from __future__ import annotations

from plexm8.store.database import connect
from plexm8.store.index_store import SqliteLibraryStore
from plexm8.store.migrations import MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "SqliteLibraryStore", "connect", "migrate"]

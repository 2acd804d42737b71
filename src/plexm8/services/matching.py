"""Match a rating source against an account's index: the one call a rating sync makes before planning."""

from __future__ import annotations

from collections.abc import Sequence

from plexm8.core.matcher import MatchCatalogStore, MatchRun
from plexm8.core.matching import MatchOutcome, PathMapping
from plexm8.core.ports import RatingSource
from plexm8.services.gc_pause import gc_paused

__all__ = ["match_source"]


def match_source(
    catalog_store: MatchCatalogStore,
    account: str,
    source: RatingSource,
    source_kind: str,
    *,
    path_mappings: Sequence[PathMapping] | None,
) -> MatchOutcome:
    """Match the tracks of ``source`` to the account's indexed Plex tracks.

    The catalog is loaded and its lookups built first: a source reading ahead in a worker process
    (``open_source(..., read_ahead=True)``) is read meanwhile, and nearly every sync needs the lookups (one source
    track not found by its path is enough). Then each track is matched as it arrives (:class:`MatchRun`), so
    matching overlaps the rest of the read. The outcome exists only once the whole source is read: a source that
    fails part-way (a truncated file) raises before any. Matches remembered for ``source_kind`` are tried first;
    ``path_mappings`` ``None`` lets the matcher suggest mappings from the data. Raises
    :class:`~plexm8.errors.NotFound` when the account has no index yet.
    """
    with gc_paused():  # a catalog and a source of 100,000s of acyclic records: see plexm8.services.gc_pause
        catalog = catalog_store.load(account)
        catalog.build_lookups()
        remembered = catalog_store.remembered(account, source_kind)
        run = MatchRun(catalog, path_mappings=path_mappings, remembered=remembered)
        for track in source.tracks():
            run.add(track)
        outcome = run.finish()
        # Freed before the collector is back, so that its first pass walks only what survives (the outcome), not
        # the million objects of the catalog and its lookups (0.2 s).
        del catalog, run
    return outcome

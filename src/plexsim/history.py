"""Answer ``/status/sessions/history/all`` queries from a time-ordered copy of the history, cached between pages.

A client reads a long history in pages, each a request with the same filters; filtering and sorting every row
again for every page made reading 300,000 rows quadratic. The rows are kept sorted by ``(viewedAt, id)``, so a
``viewedAt`` window is two bisections, and the selected rows of recent queries are kept until the history changes
(it only grows: plays append rows). Results are exactly what filtering and stably sorting the history in its own
order (history id order) gives.
"""

from __future__ import annotations

import bisect
from operator import attrgetter
from typing import NamedTuple

from plexsim.state import HistoryRow, ServerState

__all__ = ["HistoryIndex", "HistoryQuery"]

#: Recent queries kept (a client paging through one query, a few others interleaved).
_KEEP = 16


class HistoryQuery(NamedTuple):
    """One history query: who asks, its filters, its inclusive ``viewedAt`` window and its sorts."""

    #: ``None`` for the admin, who sees every account's plays; otherwise the account that sees only its own.
    viewer: int | None
    account_id: int | None
    section_id: int | None
    item_id: int | None
    viewed_from: int | None
    viewed_until: int | None
    #: ``(field, descending)`` in priority order; fields are ``viewedAt`` and ``accountID``.
    sorts: tuple[tuple[str, bool], ...]


def _by_time(row: HistoryRow) -> tuple[int, int]:
    return row.viewed_at, row.id


class HistoryIndex:
    """The history sorted by time plus the answers to recent queries, rebuilt when the history changes.

    Callers hold the state's lock (plexsim's handlers do), so the index never sees the history mid-change.
    """

    def __init__(self) -> None:
        self._version: tuple[int, int, int] | None = None
        self._rows: list[HistoryRow] = []
        self._times: list[int] = []
        self._answers: dict[HistoryQuery, list[HistoryRow]] = {}

    def rows(self, state: ServerState, query: HistoryQuery) -> list[HistoryRow]:
        """The rows ``query`` selects, in its order (do not modify the list)."""
        history = state.history
        version = (id(history), len(history), history[-1].id if history else 0)
        if version != self._version:
            self._rows = sorted(history, key=_by_time)
            self._times = [row.viewed_at for row in self._rows]
            self._answers = {}
            self._version = version
        found = self._answers.get(query)
        if found is None:
            found = self._select(state, query)
            if len(self._answers) >= _KEEP:
                self._answers.clear()
            self._answers[query] = found
        return found

    def _select(self, state: ServerState, query: HistoryQuery) -> list[HistoryRow]:
        if query.section_id is not None and query.section_id != state.section.id:
            return []
        wanted: set[int] | None = None
        if query.item_id is not None:
            obj = state.item(query.item_id)
            wanted = set() if obj is None else {t.id for t in state.leaves(obj)}
        start = 0 if query.viewed_from is None else bisect.bisect_left(self._times, query.viewed_from)
        stop = len(self._times) if query.viewed_until is None else bisect.bisect_right(self._times, query.viewed_until)
        window = self._rows[start:stop]
        viewer, account_id = query.viewer, query.account_id
        if viewer is not None or account_id is not None or wanted is not None:
            window = [
                row
                for row in window
                if (viewer is None or row.account_id == viewer)
                and (account_id is None or row.account_id == account_id)
                and (wanted is None or row.key in wanted)
            ]
        sorts = query.sorts
        if sorts and sorts[0][0] == "viewedAt":
            # (viewedAt, id) orders every row, so a leading viewedAt sort decides the whole order.
            if sorts[0][1]:
                window.reverse()
            return window
        # Back to the history's own order (ids grow as rows are appended), then the same stable sorts as before.
        window.sort(key=attrgetter("id"))
        for name, descending in reversed(sorts):
            if name == "viewedAt":
                window.sort(key=_by_time, reverse=descending)
            else:
                window.sort(key=attrgetter("account_id"), reverse=descending)
        return window

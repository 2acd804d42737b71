"""Plex's sonic neighbours of a track (``GET /library/metadata/<id>/nearest``), the SonicNeighbours port.

This is the request python-plexapi's ``Audio.sonicallySimilar`` sends; the answer is read as the XML container
it is (``ratingKey`` and ``distance`` of each item) instead of building a plexapi object per neighbour. A server
without sonic analysis, or a track it has not analysed, answers with no items; a key Plex does not know answers 404,
which reads as "no neighbours" too, because a model build asks for tracks the index knew a moment ago.
"""

from __future__ import annotations

from urllib.parse import urlencode

from plexapi.exceptions import NotFound as PlexApiNotFound

from plexm8.plex.library import PlexApiLibrary

__all__ = ["PlexSonicNeighbours"]


class PlexSonicNeighbours:
    """The sonic neighbours Plex gives the account of ``library`` (its connection is reused, nothing sent before)."""

    def __init__(self, library: PlexApiLibrary) -> None:
        self._library = library

    def nearest(self, rating_key: int, *, limit: int, max_distance: float) -> list[tuple[int, float]]:
        """Up to ``limit`` tracks within ``max_distance`` of the track, nearest first, as ``(rating_key, distance)``.

        Raises :class:`~plexm8.errors.PlexUnavailable` / :class:`~plexm8.errors.PlexAuthError` like every Plex read.
        """
        if limit < 1:
            raise ValueError("limit must be positive")
        server = self._library.server()
        query = urlencode({"limit": limit, "maxDistance": f"{max_distance:g}"})
        with self._library.errors():
            try:
                container = server.query(f"/library/metadata/{int(rating_key)}/nearest?{query}")  # type: ignore[no-untyped-call]
            except PlexApiNotFound:
                return []
        found: list[tuple[int, float]] = []
        if container is None:
            return found
        for element in container:
            if element.get("type") != "track":
                continue
            key, distance = element.get("ratingKey"), element.get("distance")
            if key is None or not key.isdigit() or int(key) == rating_key:
                continue
            try:
                found.append((int(key), float(distance) if distance is not None else max_distance))
            except ValueError:
                continue
        found.sort(key=lambda pair: pair[1])
        return found[:limit]

"""The JSON API under ``/api``: one blueprint per resource, each declaring the feature it gives the web app.

``features`` in ``/api/health`` is derived from :data:`API_BLUEPRINTS`, so it lists only what this build serves.
Add a resource by appending ``(its_module.bp, "feature-name")``; infrastructure endpoints use ``None``.
"""

from __future__ import annotations

from flask import Blueprint

from plexm8.web.api import docs, health, jobs, library, playlists, ratings, recommendations, sync, tracks

__all__ = ["API_BLUEPRINTS", "features"]

API_BLUEPRINTS: tuple[tuple[Blueprint, str | None], ...] = (
    (health.bp, None),
    (docs.bp, None),
    (playlists.bp, "playlists"),
    (jobs.bp, "jobs"),
    (library.bp, "library"),
    (ratings.bp, "ratings"),
    (sync.bp, "ratings"),
    (recommendations.bp, "recommendations"),
    (tracks.bp, "tracks"),
)


def features() -> tuple[str, ...]:
    """The sorted feature names of the registered API blueprints."""
    return tuple(sorted({feature for _, feature in API_BLUEPRINTS if feature is not None}))

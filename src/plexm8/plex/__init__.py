"""The Plex adapter: the only package that imports python-plexapi; it speaks PlexM8's models and errors outward."""

from __future__ import annotations

from plexm8.plex.connection import PlexApiConnection, plexapi_version

__all__ = ["PlexApiConnection", "plexapi_version"]

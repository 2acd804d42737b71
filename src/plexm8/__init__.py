"""PlexM8: a local companion service for a Plex Media Server music library."""

__version__ = "0.1.0"
__all__ = ["__version__"]

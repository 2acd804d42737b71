"""plexsim: a stateful simulator of the Plex Media Server HTTP API for music libraries."""

__version__ = "0.1.0"
__all__ = ["__version__"]

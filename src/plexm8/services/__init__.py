"""PlexM8's use cases; they see only the ports in :mod:`plexm8.core.ports`, never an adapter."""

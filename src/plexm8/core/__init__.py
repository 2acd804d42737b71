"""PlexM8's vocabulary: frozen models and the ports adapters implement (standard library only)."""

"""The Plex adapter: the only package that imports python-plexapi; it speaks PlexM8's models and errors outward.

Its modules are imported by name (``plexm8.plex.connection``, ``plexm8.plex.section_reader``...): a worker process
that only reads listings (the history spool) then starts without importing python-plexapi.
"""

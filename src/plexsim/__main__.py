"""``python -m plexsim``: the same as the ``plexsim`` command."""

from plexsim.cli import main

main()

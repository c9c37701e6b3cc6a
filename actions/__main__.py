"""``python -m actions``: start the action server."""

from actions.server import main

main()

"""``python -m desk``: start the desk service."""

from desk.app import main

main()

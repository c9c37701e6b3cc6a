"""``python -m desk``: start the desk service; ``python -m desk users add ...``: add a user."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "users":
    from desk.users_cli import main as users_main

    sys.exit(users_main(sys.argv[2:]))

from desk.app import main

main()

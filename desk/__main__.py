"""``python -m desk``: start the desk service; ``python -m desk users add ...``: add a user;
``python -m desk corrections export``: accepted corrected examples as Rasa NLU YAML."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "users":
    from desk.users_cli import main as users_main

    sys.exit(users_main(sys.argv[2:]))

if len(sys.argv) > 1 and sys.argv[1] == "corrections":
    from desk.corrections_cli import main as corrections_main

    sys.exit(corrections_main(sys.argv[2:]))

from desk.app import main

main()

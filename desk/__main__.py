"""``python -m desk``: start the desk service; ``python -m desk users add ...``: add a user;
``python -m desk corrections export``: accepted corrected examples as Rasa NLU YAML."""

import sys

# The desk uses no TensorFlow, but spaCy's thinc imports it when installed (Rasa installs
# it): for the PII redactor that doubled the desk's memory (0.7 -> 1.2 GB) and its load
# time (2.7 -> 5.0 s). Marked missing here, in the desk's own process only.
sys.modules.setdefault("tensorflow", None)  # type: ignore[arg-type]

if len(sys.argv) > 1 and sys.argv[1] == "users":
    from desk.users_cli import main as users_main

    sys.exit(users_main(sys.argv[2:]))

if len(sys.argv) > 1 and sys.argv[1] == "corrections":
    from desk.corrections_cli import main as corrections_main

    sys.exit(corrections_main(sys.argv[2:]))

from desk.app import main  # noqa: E402  (after the TensorFlow marker above)

main()

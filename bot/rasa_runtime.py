"""``python -m bot.rasa_runtime <rasa arguments>``: Rasa 3.6's command line, with one fix.

Rasa 3.6 checks every action server response with ``jsonschema.validate``, which first
validates the (large, unchanging) event schema itself against the JSON Schema meta-schema,
on every call. Profiled with py-spy on ``mot up`` under a stream of REST turns, that was
over a third of the Rasa process's time per turn. :func:`check_schema_once` keeps Rasa's
check (same schema, same error) but builds the validator once. ``mot up`` starts Rasa
through this module; everything else is Rasa's own ``rasa`` command, unchanged (ADR 0009).
"""

from __future__ import annotations

import functools
import sys
from typing import Any


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (f". Failed to validate Action server response from API, make sure "
                      f"your response from the Action endpoint is valid. For more "
                      f"information about the format visit {DOCS_BASE_URL}/custom-actions")
    raise error


def check_schema_once() -> None:
    """Installs :func:`_validate_action_result` on Rasa's RemoteAction."""
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def main() -> None:
    check_schema_once()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()

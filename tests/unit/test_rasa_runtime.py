"""bot/rasa_runtime.py: Rasa's action response check, with the validator built once; and
what the config checks know of Rasa's own components."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_runtime import _validate_action_result

GOOD = {"events": [{"event": "slot", "name": "moment", "value": "parcel_late"},
                   {"event": "action_execution_rejected", "name": "x"}],
        "responses": [{"text": "hello"}]}
BAD = {"events": [{"event": "slot", "name": 3}], "responses": "not a list"}


@pytest.mark.parametrize("result", [GOOD, BAD, {}, {"events": [{"event": "nonsense"}]}])
def test_same_verdict_as_rasas_own_check(result: dict) -> None:
    def verdict(check) -> str:  # type: ignore[no-untyped-def]
        try:
            return str(check(RemoteAction, result))
        except ValidationError as error:
            return f"invalid: {error.message}"

    assert verdict(_validate_action_result) == verdict(RemoteAction._validate_action_result)


def test_the_error_says_what_to_fix() -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        _validate_action_result(RemoteAction, BAD)


def test_config_checks_know_rasas_own_components() -> None:
    from rasa.engine.recipes.default_components import DEFAULT_COMPONENTS

    from bot.build import RASA_COMPONENTS

    assert {component.__name__ for component in DEFAULT_COMPONENTS} == RASA_COMPONENTS

"""The Rasa command `mot up` starts: Rasa's own parser must read it as meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import load_settings
from bot.supervisor import services


@pytest.mark.parametrize("token", ["-dash-first_token", "plain-token", "--looks-like-a-flag"])
def test_rasa_reads_the_auth_token_whatever_it_begins_with(tmp_path: Path, token: str) -> None:
    """Random tokens begin with "-" once in 64 starts; `mot up` then failed with
    "argument -t/--auth-token: expected one argument"."""
    from rasa.__main__ import create_argument_parser

    settings = load_settings({"MOT_DATA_DIR": str(tmp_path), "MOT_RASA_TOKEN": token})
    rasa = next(s for s in services(settings, tmp_path / "model.tar.gz", tmp_path / "e.yml",
                                    tmp_path / "c.yml") if s.name == "rasa")
    arguments = create_argument_parser().parse_args(rasa.command[3:])
    assert arguments.auth_token == token
    assert arguments.enable_api and arguments.port == settings.rasa_port

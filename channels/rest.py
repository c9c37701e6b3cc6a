"""REST input channel (``/webhooks/rest/webhook``) that rejects bad input clearly.

Same wire as Rasa's REST channel: POST ``{"sender": "...", "message": "..."}`` answers a
JSON list of bot messages. Malformed JSON, a missing sender, and empty, oversized or binary
messages answer 400/413 with ``{"error": "..."}`` instead of reaching the bot; a customer
token in ``metadata`` is checked (channels/identity.py), 401 if it cannot be trusted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import strict_json
from channels.guard import MessageRejected, check_sender, check_text
from channels.identity import token_secret, verified_metadata

log = structlog.get_logger()
DEFAULT_MAX_CHARS = 5000


class GuardedRestInput(RestInput):
    """Rasa's REST channel with input checks."""

    def __init__(self, max_message_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_message_chars = max_message_chars

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        credentials = credentials or {}
        return cls(int(credentials.get("max_message_chars", DEFAULT_MAX_CHARS)))

    def parse(self, request: Request) -> tuple[str, str, dict[str, Any] | None]:
        """(sender, text, metadata) from the request body, or raises MessageRejected."""
        try:
            body = strict_json.loads(request.body)
        except UnicodeDecodeError:
            raise MessageRejected("the request body is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise MessageRejected(f"the request body is not valid JSON ({error.msg} at "
                                  f"line {error.lineno} column {error.colno})") from None
        if not isinstance(body, dict):
            raise MessageRejected("the request body must be a JSON object with "
                                  "'sender' and 'message'")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise MessageRejected("'metadata' must be a JSON object")
        return (check_sender(body.get("sender")),
                check_text(body.get("message"), self.max_message_chars),
                verified_metadata(metadata, token_secret()))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = self.parse(request)
            except MessageRejected as rejected:
                log.info("rest.message.rejected", reason=rejected.reason)
                return response.json({"error": rejected.reason}, status=rejected.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=self.name(), metadata=metadata))
            except Exception:
                log.exception("rest.message.failure", sender=sender)
                return response.json({"error": "the assistant failed to answer; please try "
                                               "again"}, status=500)
            return response.json(collector.messages)

        return webhook

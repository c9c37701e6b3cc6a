"""Telegram input channel (``/webhooks/telegram/webhook``), checked like every channel.

Telegram posts each update (a customer's message, a press of one of the bot's buttons) to
the webhook; the bot answers through the Bot API's ``sendMessage``, buttons as an inline
keyboard whose presses come back as the button's payload. The conversation id is
``telegram:<chat id>``, in a namespace of its own so that no other channel's client can
name it, and the desk's lines reach the customer in the same chat
(``output_channel=latest``). A photo's caption is read as its text and a shared contact as
its phone number; ``/start`` is a greeting; an edited message is not answered again; a
group or channel is asked to write privately (the desk's lines would reach every member).

Rasa 3.6's own connector was not used: it asks Telegram who the bot is (``getMe``) on every
message, sets the webhook while the server is being built, and raises inside the request on
any error. Here:

- the webhook must carry the secret given to ``setWebhook`` (header
  ``X-Telegram-Bot-Api-Secret-Token``), else 401: nobody else can post as Telegram;
- a malformed update answers 400 with the reason; a message that is not text (a photo, a
  sticker) or that breaks the input checks (channels/guard.py) gets a short reply in the
  chat saying so, and never reaches the bot;
- an update Telegram delivers again (it retries until it gets 200) is handled once
  (``update_id``, claimed before handling and released if handling fails, so that the retry
  is taken; in this process's memory, or with ``redis_url`` in the Rasa replicas' Redis);
  a button press is answered (``answerCallbackQuery``, beside the press, never holding it
  up) so the customer's button stops spinning;
- a failed ``sendMessage`` raises, so the desk's delivery of an agent's line is retried
  instead of being marked delivered.

Telegram shows text as written: the responses' Markdown bold (``**...**``) is dropped.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import structlog
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from redis.asyncio import from_url as redis_from_url
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import strict_json
from channels.guard import MessageRejected, check_text

log = structlog.get_logger()
DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_MAX_CHARS = 5000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram's limits: a message's text, a button's callback data (bytes).
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
#: Flood control (429): how often a call is tried again, and the longest wait taken; a
#: longer ``retry_after`` fails the call at once (the desk retries a delivery later).
MAX_RETRIES = 3
MAX_RETRY_WAIT = 10.0


#: Conversation ids of Telegram chats: ``telegram:<chat id>``.
CONVERSATION_PREFIX = "telegram:"
#: Bot commands Telegram clients send, as the assistant reads them (``/start`` opens every
#: chat: a greeting).
COMMANDS = {"start": "/greet", "help": "help"}
#: The answer in a group or channel: the desk's lines would reach everyone in it.
GROUPS = ("I can only help in a private chat: please message me directly, so what you tell "
          "me stays between us.")
BOLD = re.compile(r"(?<!\S)\*\*(\S(?:.*?\S)?)\*\*(?!\w)", re.DOTALL)


def _retry_after(body: Any) -> float | None:
    """The seconds a 429 answer asks to wait (``parameters.retry_after``); None otherwise."""
    if not isinstance(body, dict) or body.get("ok") or body.get("error_code") != 429:
        return None
    parameters = body.get("parameters")
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait < 1e6:
        return 1.0
    return float(wait)


class TelegramApiError(RuntimeError):
    """The Bot API refused a call or could not be reached; says which and why."""


class Connections:
    """One HTTP session for every Bot API call of a running server (keep-alive: a TLS
    handshake per message would add its round trips to every answer); None before the
    server starts and after it stops, when each call opens its own."""

    session: aiohttp.ClientSession | None = None


class TelegramOutput(OutputChannel):
    """Sends the bot's messages to a chat through the Bot API."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, access_token: str, api_url: str = DEFAULT_API_URL,
                 timeout_seconds: float = 10.0, connections: Connections | None = None) -> None:
        self._base = f"{api_url.rstrip('/')}/bot{access_token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._connections = connections or Connections()

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        """One Bot API call; its ``result``. Told to slow down (429, flood control), it
        waits the ``retry_after`` Telegram names and tries again, up to
        :data:`MAX_RETRIES` times and :data:`MAX_RETRY_WAIT` seconds a wait.

        Raises:
            TelegramApiError: the API answered ``ok: false`` or could not be reached.
        """
        for attempt in range(MAX_RETRIES + 1):
            body = await self._post(method, payload)
            wait = _retry_after(body)
            if wait is None or wait > MAX_RETRY_WAIT or attempt == MAX_RETRIES:
                break
            log.info("telegram.flood_control", method=method, retry_after=wait)
            await asyncio.sleep(wait)
        if not isinstance(body, dict) or not body.get("ok"):
            reason = body.get("description") if isinstance(body, dict) else body
            raise TelegramApiError(f"Telegram {method} refused: {reason}")
        return body.get("result")

    async def _post(self, method: str, payload: dict[str, Any]) -> Any:
        shared = self._connections.session
        try:
            if shared is not None and not shared.closed:
                async with shared.post(f"{self._base}/{method}", json=payload,
                                       timeout=self._timeout) as reply:
                    body = await reply.json(content_type=None)
            else:
                async with aiohttp.ClientSession(timeout=self._timeout) as session, \
                        session.post(f"{self._base}/{method}", json=payload) as reply:
                    body = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise TelegramApiError(f"Telegram {method} failed: {error!r}") from None
        return body

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in _parts(_plain(text)):
            if part.strip():
                await self.call("sendMessage", {"chat_id": chat_of(recipient_id), "text": part})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        keyboard = [[{"text": str(b.get("title", "")),
                      "callback_data": str(b.get("payload", b.get("title", "")))}]
                    for b in buttons
                    if len(str(b.get("payload", "")).encode()) <= MAX_CALLBACK_BYTES]
        *first, last = _parts(_plain(text)) or [" "]  # a long text: the buttons on its end
        for part in first:
            await self.call("sendMessage", {"chat_id": chat_of(recipient_id), "text": part})
        await self.call("sendMessage", {"chat_id": chat_of(recipient_id), "text": last,
                                        "reply_markup": {"inline_keyboard": keyboard}})

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.call("sendPhoto", {"chat_id": chat_of(recipient_id), "photo": image})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        await self.call("sendMessage", {"chat_id": chat_of(recipient_id), **json_message})


class Updates(Protocol):
    """Which updates are taken: Telegram sends one again until it gets a 200."""

    async def claim(self, update_id: Any) -> bool:
        """True the first time (the caller handles it); False for a repeat."""

    async def release(self, update_id: Any) -> None:
        """The update was not handled after all: its repeat is taken."""


class LocalUpdates:
    """This process's memory of the last ``size`` updates (one Rasa process)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def claim(self, update_id: Any) -> bool:
        if not isinstance(update_id, int):
            return True
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    async def release(self, update_id: Any) -> None:
        self._seen.pop(update_id, None)


class RedisUpdates:
    """Updates taken, in the Rasa replicas' Redis (a day each): a repeat that reaches another
    replica, or comes after a restart, is still a repeat."""

    def __init__(self, url: str, ttl_seconds: int = 86_400, prefix: str = "mot:telegram") -> None:
        self.redis = redis_from_url(url)
        self.ttl, self.prefix = ttl_seconds, prefix

    async def claim(self, update_id: Any) -> bool:
        if not isinstance(update_id, int):
            return True
        return bool(await self.redis.set(f"{self.prefix}:update:{update_id}", "1", nx=True,
                                         ex=self.ttl))

    async def release(self, update_id: Any) -> None:
        if isinstance(update_id, int):
            await self.redis.delete(f"{self.prefix}:update:{update_id}")


class GuardedTelegramInput(InputChannel):
    """Telegram's webhook with a secret, input checks and updates handled once."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedTelegramInput:
        credentials = credentials or {}
        token, secret = credentials.get("access_token"), credentials.get("secret_token")
        if not token or not secret:
            raise ValueError("the telegram channel needs 'access_token' and 'secret_token' "
                             "(MOT_TELEGRAM_TOKEN; the secret is generated when unset)")
        return cls(str(token), str(secret), credentials.get("webhook_url") or None,
                   str(credentials.get("api_url") or DEFAULT_API_URL),
                   int(credentials.get("max_message_chars", DEFAULT_MAX_CHARS)),
                   credentials.get("redis_url") or None)

    def __init__(self, access_token: str, secret_token: str, webhook_url: str | None = None,
                 api_url: str = DEFAULT_API_URL, max_message_chars: int = DEFAULT_MAX_CHARS,
                 redis_url: str | None = None) -> None:
        self.access_token, self.secret_token = access_token, secret_token
        self.webhook_url, self.api_url = webhook_url, api_url
        self.max_message_chars = max_message_chars
        self.updates: Updates = RedisUpdates(redis_url) if redis_url else LocalUpdates()
        self._pending: set[asyncio.Task[None]] = set()
        self._connections = Connections()

    def get_output_channel(self) -> TelegramOutput:
        return TelegramOutput(self.access_token, self.api_url, connections=self._connections)


    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        output = self.get_output_channel()

        @webhook.listener("before_server_stop")
        async def disconnect(*_: Any) -> None:
            session, self._connections.session = self._connections.session, None
            if session is not None:
                await session.close()

        @webhook.listener("after_server_start")
        async def register(*_: Any) -> None:
            self._connections.session = aiohttp.ClientSession()
            if self.webhook_url:  # else the operator calls setWebhook (README)
                try:
                    await output.call("setWebhook", {"url": self.webhook_url,
                                                     "secret_token": self.secret_token})
                    log.info("telegram.webhook.set", url=self.webhook_url)
                except TelegramApiError as error:
                    log.error("telegram.webhook.not_set", reason=str(error))

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
                log.warning("telegram.webhook.refused", reason="wrong or missing secret")
                return response.json({"error": f"missing or wrong {SECRET_HEADER}"}, status=401)
            try:
                update = _update(request.body)
            except MessageRejected as rejected:
                return response.json({"error": rejected.reason}, status=rejected.status)
            update_id = update.get("update_id")
            if not await self.updates.claim(update_id):
                return response.json({"ok": True, "duplicate": True})
            try:
                return await handle(update)
            except Exception:
                await self.updates.release(update_id)  # Telegram sends it again after the 500
                raise

        async def handle(update: dict[str, Any]) -> HTTPResponse:
            pressed = update.get("callback_query")
            if isinstance(pressed, dict) and isinstance(pressed.get("id"), str):
                # stops the button's spinner; never holds up the press itself
                task = asyncio.create_task(_answer_press(output, pressed["id"]))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            try:
                message, text = _message(update)
                chat = _chat(message) if message is not None else None
            except MessageRejected as rejected:
                return response.json({"error": rejected.reason}, status=rejected.status)
            if message is None or chat is None:  # not for the bot (an edit, a member change)
                return response.json({"ok": True})
            conversation = conversation_id(chat)
            if (message.get("chat") or {}).get("type", "private") != "private":
                await output.send_text_message(conversation, GROUPS)
                return response.json({"ok": True})
            try:
                text = check_text(text, self.max_message_chars) if text is not None else None
                if text is None:
                    raise MessageRejected("I can only read text messages for now")
            except MessageRejected as rejected:
                log.info("telegram.message.rejected", reason=rejected.reason)
                await output.send_text_message(conversation, f"Sorry, I can't read that: "
                                                             f"{rejected.reason.rstrip('.')}.")
                return response.json({"ok": True})
            await on_new_message(UserMessage(text, output, conversation,
                                             input_channel=self.name(),
                                             message_id=_message_id(update)))
            return response.json({"ok": True})

        return webhook


def _update(body: bytes) -> dict[str, Any]:
    try:
        update = strict_json.loads(body)
    except UnicodeDecodeError:
        raise MessageRejected("the update is not UTF-8 text") from None
    except ValueError as error:
        raise MessageRejected(f"the update is not valid JSON ({error})") from None
    if not isinstance(update, dict):
        raise MessageRejected("the update must be a JSON object")
    return update


def conversation_id(chat_id: int) -> str:
    """A chat's conversation id: in a namespace of its own, so that no other channel's
    client can name a Telegram customer's conversation (a REST ``sender`` is any text)."""
    return f"{CONVERSATION_PREFIX}{chat_id}"


def chat_of(conversation: str) -> str:
    """The chat id of a conversation id (the Bot API's ``chat_id``)."""
    return conversation.removeprefix(CONVERSATION_PREFIX)


def _message(update: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
    """The update's message (a button press's message) and its text: a button's payload, a
    message's text or a photo's caption, a shared contact's phone number, or None.

    Raises:
        MessageRejected: a message, edit or press that is not an object.
    """
    for key in ("message", "callback_query"):
        if key in update and not isinstance(update[key], dict):
            raise MessageRejected(f"the update's '{key}' must be an object")
    pressed = update.get("callback_query")
    if isinstance(pressed, dict):
        message = pressed.get("message")
        return (message if isinstance(message, dict) else None), pressed.get("data")
    message = update.get("message")
    if not isinstance(message, dict):  # an edit, a member change, a channel post: not asked
        return None, None
    contact = message.get("contact")
    phone = contact.get("phone_number") if isinstance(contact, dict) else None
    text = message.get("text", message.get("caption", phone))
    if isinstance(text, str) and text.startswith("/"):  # a bot command
        command = text[1:].split(maxsplit=1)[0].split("@")[0] if len(text) > 1 else ""
        text = COMMANDS.get(command, text)
    return message, text


def _chat(message: dict[str, Any]) -> int:
    """The private chat's id.

    Raises:
        MessageRejected: no chat, or an id that is not a whole number.
    """
    chat = message.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(chat_id, int) or isinstance(chat_id, bool) or abs(chat_id) >= 2**63:
        raise MessageRejected("the update's chat id must be a whole number")
    return chat_id


def _message_id(update: dict[str, Any]) -> str | None:
    update_id = update.get("update_id")
    return f"telegram-{update_id}" if isinstance(update_id, int) else None


def _plain(text: str) -> str:
    """The responses' Markdown bold (``**title**``), which Telegram would show with its
    asterisks, as plain text; other asterisks (an agent's ``x**2``) stay as written."""
    return BOLD.sub(r"\1", text)


def _parts(text: str) -> list[str]:
    """Telegram's limit of 4,096 characters a message, which it counts in UTF-16 units (an
    emoji is two): a longer text goes as several messages."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for character in text:
        size = 2 if ord(character) > 0xFFFF else 1
        if used + size > MAX_TEXT:
            parts.append("".join(current))
            current, used = [], 0
        current.append(character)
        used += size
    return [*parts, "".join(current)] if current else parts


async def _answer_press(output: TelegramOutput, press_id: str) -> None:
    try:
        await output.call("answerCallbackQuery", {"callback_query_id": press_id})
    except TelegramApiError as error:
        log.info("telegram.callback.unanswered", reason=str(error))

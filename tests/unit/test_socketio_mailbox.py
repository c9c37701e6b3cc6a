"""Socket.io lines for a customer who is away wait in the mailbox until the session is back."""

from __future__ import annotations

from typing import Any

from channels.socketio import GuardedSocketIOInput, Mailbox, MailboxSocketIOOutput


def test_the_mailbox_keeps_the_newest_lines_for_a_while() -> None:
    now = [0.0]
    mailbox = Mailbox(max_lines=3, max_age=60, max_sessions=2, clock=lambda: now[0])
    for n in range(5):
        mailbox.keep("ann", {"text": f"line {n}"})
    assert mailbox.take("ann") == [{"text": "line 2"}, {"text": "line 3"}, {"text": "line 4"}]
    assert mailbox.take("ann") == []  # handed over once
    mailbox.keep("bob", "old")
    now[0] = 50
    mailbox.keep("bob", "new")
    now[0] = 100
    assert mailbox.take("bob") == ["new"]  # "old" waited longer than 60 s
    for session in ("s1", "s2", "s3"):
        mailbox.keep(session, session)
    assert len(mailbox) == 2 and mailbox.take("s1") == []  # the longest waiting dropped


def recorded_channel(received: list[Any]) -> tuple[GuardedSocketIOInput, Any,
                                                    list[tuple[str, Any, str]]]:
    """The channel's socket.io server, every emit recorded instead of sent."""
    channel = GuardedSocketIOInput(session_persistence=True)

    async def on_new_message(message: Any) -> None:
        received.append(message)

    channel.blueprint(on_new_message)
    sio = channel.sio
    assert sio is not None
    emitted: list[tuple[str, Any, str]] = []

    async def emit(event: str, data: Any = None, room: str = "", **_: Any) -> None:
        emitted.append((event, data, room))

    sio.emit = emit  # type: ignore[method-assign]
    return channel, sio, emitted


async def test_a_line_for_a_session_away_arrives_when_it_comes_back() -> None:
    channel, sio, emitted = recorded_channel([])
    output = channel.get_output_channel()
    assert isinstance(output, MailboxSocketIOOutput)

    await output.send_text_message("sess-1", "Hello, this is Ann.\n\nStill there?")
    assert emitted == []  # nobody has connected yet: kept
    first = sio.manager.connect("eio-1", "/")
    request_session = sio.handlers["/"]["session_request"]
    await request_session(first, {"session_id": "sess-1"})
    assert emitted == [("session_confirm", "sess-1", first),
                       ("bot_uttered", {"text": "Hello, this is Ann."}, first),
                       ("bot_uttered", {"text": "Still there?"}, first)]

    emitted.clear()
    await output.send_text_message("sess-1", "Online now")  # the room has a socket
    assert emitted == [("bot_uttered", {"text": "Online now"}, "sess-1")]
    assert len(channel.mailbox) == 0

    emitted.clear()
    await sio.manager.disconnect(first, "/")  # the tab is closed
    await output.send_text_message("sess-1", "Did we sort it out?")
    assert emitted == []
    second = sio.manager.connect("eio-2", "/")
    await request_session(second, {"session_id": "sess-2"})  # another customer: nothing
    await request_session(second, {"session_id": "sess-1"})
    assert emitted[-1] == ("bot_uttered", {"text": "Did we sort it out?"}, second)


async def test_a_session_id_the_channel_cannot_use_is_refused_with_a_reason() -> None:
    """Rasa's channel dropped a message without a session id, and a number as session id
    made a room its replies never reached: both went unanswered."""
    received: list[Any] = []
    _, sio, emitted = recorded_channel(received)
    sid = sio.manager.connect("eio-1", "/")
    handlers = sio.handlers["/"]
    await handlers["session_request"](sid, {"session_id": 12345})
    await handlers["session_request"](sid, "garbage")
    await handlers["user_uttered"](sid, {"message": "hi"})
    await handlers["user_uttered"](sid, {"message": "hi", "session_id": "s\x00"})
    assert [text for _, text, _ in emitted] == [
        {"text": "Sorry, I can't read that: 'session_id' must be a string (the conversation's "
                 "id)."},
        {"text": "Sorry, I can't read that: a session request must be an object with "
                 "'session_id'."},
        {"text": "Sorry, I can't read that: 'session_id' must be a string (the conversation's "
                 "id)."},
        {"text": "Sorry, I can't read that: 'session_id' must be at most 200 printable "
                 "characters."}]
    assert received == []

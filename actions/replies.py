"""How the bot's answers look on each kind of channel."""

from __future__ import annotations

from typing import Any

from bot.catalogue import Moment
from knowledge.articles import Article

#: Rasa input channel name -> the article channel kinds of knowledge/articles.py
CHANNEL_KINDS = {
    "socketio": "web", "rest": "api", "callback": "api", "telegram": "telegram",
    "whatsapp": "whatsapp", "facebook": "messenger", "slack": "slack", "twilio": "sms",
    "sms": "sms",
}
#: Short channels get the summary and steps only; the rest get the whole article.
SHORT_CHANNELS = {"sms"}

FEEDBACK_BUTTONS = [
    {"title": "Yes, solved", "payload": "/affirm"},
    {"title": "No, still stuck", "payload": "/deny"},
    {"title": "Talk to a person", "payload": "/request_human"},
]
#: The same buttons with a person first, for what only a person can answer ("how long does
#: that take?" about an article).
PERSON_FIRST_BUTTONS = [FEEDBACK_BUTTONS[-1], *FEEDBACK_BUTTONS[:-1]]


def channel_kind(input_channel: str | None) -> str:
    return CHANNEL_KINDS.get(input_channel or "", "web")


def article_message(article: Article, kind: str, first: bool,
                    also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The article as one message, with the "did this solve it?" buttons; ``also``: the
    titles of other moments the customer mentioned, promised for afterwards."""
    lead = "Here is what usually fixes this:" if first else "Let's try something else:"
    promise = (f"You also mentioned {' and '.join(f'“{t}”' for t in also)}: we'll come to "
               f"{'those' if len(also) > 1 else 'that'} once this is sorted.\n\n" if also else "")
    if kind in SHORT_CHANNELS:
        steps = "\n".join(f"{n}. {s}" for n, s in enumerate(article.steps(), 1))
        text = f"{article.title}\n{article.summary}\n{steps}".strip()
    else:
        text = f"{lead} **{article.title}**\n\n{article.body}"
    return {"text": f"{promise}{text}\n\nDid this solve it?", "buttons": FEEDBACK_BUTTONS}


def clarify_buttons(choices: tuple[Moment, ...]) -> list[dict[str, str]]:
    buttons = [{"title": m.title, "payload": f"/{m.id}"} for m in choices]
    buttons.append({"title": "Something else: a person, please", "payload": "/request_human"})
    return buttons


def later_buttons(moment: Moment) -> list[dict[str, str]]:
    """The answers to "shall we look at <moment> now?": its own payload, as if chosen."""
    return [{"title": "Yes, let's", "payload": f"/{moment.id}"},
            {"title": "No, that's all", "payload": "/deny"}]


def wait_phrase(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return "about a minute" if minutes == 1 else f"about {minutes} minutes"

"""The desk's application state keys: everything long-lived hangs off the app, typed."""

from __future__ import annotations

from aiohttp import web

from bot.catalogue import Catalogue
from bot.hours import BusinessHours
from bot.settings import Settings
from desk.assist import Assist
from desk.auth import USERS as USERS_STORE  # noqa: F401  (the user store, opened by desk.auth)
from desk.events import Ingestor
from desk.hub import LocalHub
from desk.identity import IdentityLinks
from desk.messages import MessageLog
from desk.presence import Presence
from desk.rasa_client import CustomerChannel
from desk.relay import Relay
from desk.store import SqlHandoffStore

SETTINGS = web.AppKey("settings", Settings)
HOURS = web.AppKey("hours", BusinessHours)
CATALOGUE = web.AppKey("catalogue", Catalogue)
REPLICA = web.AppKey("replica", str)
STORE = web.AppKey("store", SqlHandoffStore)
IDENTITIES = web.AppKey("identities", IdentityLinks)
MESSAGES = web.AppKey("messages", MessageLog)
PRESENCE = web.AppKey("presence", Presence)
HUB = web.AppKey("hub", LocalHub)
CHANNEL = web.AppKey("channel", CustomerChannel)
RELAY = web.AppKey("relay", Relay)
INGESTOR = web.AppKey("ingestor", Ingestor)
ASSIST = web.AppKey("assist", Assist)
CANNED = web.AppKey("canned", list)

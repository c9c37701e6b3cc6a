"""Who the customer is, when the company's website vouches for it: a signed customer token.

A website whose visitor is signed in can say so to the assistant: its server signs a short
JSON Web Token (HS256, secret shared with the assistant in ``MOT_CUSTOMER_TOKEN_SECRET``)
with the account id as ``sub``, an ``exp``, and optionally the e-mail and phone it has
verified; the chat widget sends it as ``customer_token`` in the message metadata (REST
``metadata``, socket.io ``customData``). The channel checks it here and replaces it with
``mot_verified_identity``, which the handoff packet carries to the desk, so that an agent
sees the customer's earlier conversations on every channel (ADR 0008).

Only this module writes ``mot_verified_identity``: a client that sends one itself has it
removed, so a customer cannot claim to be someone else. A token that is malformed, badly
signed or expired is refused with a clear reason (HTTP 401), never silently trusted.
"""

from __future__ import annotations

import os
from typing import Any

import jwt

from channels.guard import MessageRejected, unreadable

TOKEN_KEY = "customer_token"
VERIFIED_KEY = "mot_verified_identity"
SECRET_ENV = "MOT_CUSTOMER_TOKEN_SECRET"
MAX_CLAIM_CHARS = 200
#: Seconds of clock difference tolerated between the website and the assistant.
LEEWAY = 30


def token_secret() -> str | None:
    """The shared secret from the environment (never from the message, never logged)."""
    return os.environ.get(SECRET_ENV) or None


def verified_metadata(metadata: dict[str, Any] | None,
                      secret: str | None) -> dict[str, Any] | None:
    """The metadata to pass on: the customer token checked and replaced by what it vouches.

    Raises:
        MessageRejected: a token was sent that cannot be trusted (the reason says why).
    """
    if metadata is None:
        return None
    checked = {k: v for k, v in metadata.items() if k not in (TOKEN_KEY, VERIFIED_KEY)}
    if TOKEN_KEY not in metadata:
        return checked
    token = metadata[TOKEN_KEY]
    if not isinstance(token, str) or not token:
        raise MessageRejected(f"'{TOKEN_KEY}' must be a non-empty string", status=401)
    if not secret:
        raise MessageRejected(f"this assistant does not accept '{TOKEN_KEY}' ({SECRET_ENV} "
                              "is not set)", status=401)
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY,
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise MessageRejected(f"'{TOKEN_KEY}' has expired; the website must issue a new "
                              "one", status=401) from None
    except jwt.InvalidTokenError as error:
        raise MessageRejected(f"'{TOKEN_KEY}' is not valid ({error})", status=401) from None
    identity = {"customer_key": claims.get("sub"), "verified_email": claims.get("email"),
                "verified_phone": claims.get("phone")}
    if not isinstance(identity["customer_key"], str) or not identity["customer_key"].strip():
        raise MessageRejected(f"'{TOKEN_KEY}': the 'sub' claim (the account id) is empty",
                              status=401)
    for name, value in identity.items():
        if value is not None and (not isinstance(value, str) or len(value) > MAX_CLAIM_CHARS
                                  or unreadable(value, allowed="")):
            raise MessageRejected(f"'{TOKEN_KEY}': claim for {name} must be a string of at "
                                  f"most {MAX_CLAIM_CHARS} printable characters", status=401)
    checked[VERIFIED_KEY] = {k: v for k, v in identity.items() if v}
    return checked

"""The customer token a website signs (channels/identity.py) and the packet's identity."""

from __future__ import annotations

import time

import jwt
import pytest

from actions.handoff import verified_identity
from channels.guard import MessageRejected
from channels.identity import VERIFIED_KEY, verified_metadata
from desk.packet import CustomerIdentity

SECRET = "website-secret-0123456789-0123456789"


def token(secret: str = SECRET, **claims: object) -> str:
    return jwt.encode({"sub": "cust-9", "exp": int(time.time()) + 300, **claims}, secret,
                      algorithm="HS256")


def test_a_valid_token_becomes_the_verified_identity_and_is_not_passed_on() -> None:
    checked = verified_metadata({"customer_token": token(email="a@example.com"),
                                 "language": "en"}, SECRET)
    assert checked == {"language": "en",
                       VERIFIED_KEY: {"customer_key": "cust-9", "verified_email": "a@example.com"}}


def test_a_client_cannot_write_the_verified_identity_itself() -> None:
    assert verified_metadata({VERIFIED_KEY: {"customer_key": "someone"}}, SECRET) == {}
    assert verified_metadata(None, SECRET) is None


@pytest.mark.parametrize(("metadata", "secret", "needle"), [
    ({"customer_token": token(secret="other-secret-0123456789-0123456789")}, SECRET,
     "Signature verification failed"),
    ({"customer_token": token(exp=int(time.time()) - 3600)}, SECRET, "expired"),
    ({"customer_token": jwt.encode({"sub": "x"}, SECRET, algorithm="HS256")}, SECRET, "exp"),
    ({"customer_token": "not.a.token"}, SECRET, "not valid"),
    ({"customer_token": 42}, SECRET, "non-empty string"),
    ({"customer_token": token()}, None, "MOT_CUSTOMER_TOKEN_SECRET"),
    ({"customer_token": token(email=["a", "b"])}, SECRET, "verified_email"),
    ({"customer_token": token(sub="")}, SECRET, "'sub' claim (the account id) is empty"),
    ({"customer_token": token(sub="   ")}, SECRET, "'sub' claim (the account id) is empty"),
    ({"customer_token": token(sub="a\x00b\n")}, SECRET, "customer_key must be a string of at "
                                                        "most 200 printable characters"),
])
def test_untrustworthy_tokens_are_refused_with_the_reason(metadata: dict, secret: str | None,
                                                          needle: str) -> None:
    with pytest.raises(MessageRejected) as refused:
        verified_metadata(metadata, secret)
    assert refused.value.status == 401 and needle in refused.value.reason


def test_a_none_algorithm_token_is_refused() -> None:
    unsigned = jwt.encode({"sub": "cust-9", "exp": int(time.time()) + 300}, key=None,
                          algorithm="none")
    with pytest.raises(MessageRejected):
        verified_metadata({"customer_token": unsigned}, SECRET)


def test_the_packet_carries_the_latest_identity_a_channel_vouched_for() -> None:
    events = [{"event": "user", "metadata": {VERIFIED_KEY: {"customer_key": "old"}}},
              {"event": "bot", "metadata": {VERIFIED_KEY: {"customer_key": "bot?"}}},
              {"event": "user", "metadata": {VERIFIED_KEY: {"customer_key": "cust-9",
                                                            "verified_phone": "+441234"}}},
              {"event": "user", "metadata": {}}]
    assert verified_identity(events) == CustomerIdentity(customer_key="cust-9",
                                                         verified_phone="+441234")
    assert verified_identity([{"event": "user", "metadata": None}]) is None

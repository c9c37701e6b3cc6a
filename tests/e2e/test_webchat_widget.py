"""The public rasa-webchat 1.0.1 widget, in Chromium, against the running assistant.

The widget's own bundle (from the npm package, fetched by `make test` into the cache) is
served from a local page; the customer types, clicks the feedback buttons, and sees the
answers, exactly as on a company's website.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import RunningAssistant, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WEBCHAT_JS = Path(os.environ.get("MOT_WEBCHAT_JS") or
                  Path.home() / ".cache" / "mot-assist" / "rasa-webchat-1.0.1" / "index.js")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Northwind Home</title></head>
<body><div id="webchat"></div><script src="/webchat.js"></script>
<script>WebChat.default({{selector: "#webchat", initPayload: "/greet", embedded: true,
  socketUrl: "{socket_url}", socketPath: "/socket.io/", customData: {{language: "en"}},
  params: {{storage: "session"}}, title: "Northwind Home"}}, null);</script></body></html>"""


@pytest.fixture(scope="module")
def website(assistant: RunningAssistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A company web page embedding the widget, served on loopback."""
    if not WEBCHAT_JS.exists():
        pytest.fail(f"{WEBCHAT_JS} is missing: `make test` fetches rasa-webchat 1.0.1 with npm")
    root = tmp_path_factory.mktemp("website")
    (root / "index.html").write_text(PAGE.format(socket_url=assistant.rasa_url), "utf-8")
    (root / "webchat.js").write_bytes(WEBCHAT_JS.read_bytes())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()


def test_a_customer_gets_an_article_and_the_next_one_in_the_widget(website: str, page) -> None:
    page.goto(website)
    responses = page.locator(".rw-response")
    responses.filter(has_text="Northwind Home assistant").first.wait_for(timeout=30_000)
    page.locator(".rw-new-message").fill("my parcel was due 4 days ago and it's still not here")
    page.locator(".rw-new-message").press("Enter")
    responses.filter(has_text="Here is what usually fixes this").first.wait_for(timeout=30_000)
    page.locator(".rw-reply", has_text="No, still stuck").first.click()
    responses.filter(has_text="Let's try something else").first.wait_for(timeout=30_000)
    page.locator(".rw-reply", has_text="Yes, solved").last.click()
    responses.filter(has_text="Glad that sorted it").first.wait_for(timeout=30_000)

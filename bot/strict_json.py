"""JSON request bodies as RFC 8259 has them, for every service that reads one.

Python's ``json.loads`` also takes ``NaN``, ``Infinity`` and ``-Infinity`` (which no JSON
encoder writes, and which poison numbers downstream: a NaN timestamp broke a NOT NULL
column) and fails with a RecursionError, not a JSONDecodeError, on an array nested some
thousands deep. :func:`loads` refuses both with :class:`json.JSONDecodeError`, so every
handler that answers 400 for malformed JSON answers it for these too.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    """Parses ``text`` (bytes as UTF-8).

    Raises:
        json.JSONDecodeError: malformed JSON, a non-finite number, or nesting too deep.
        UnicodeDecodeError: bytes that are not UTF-8.
    """
    document = text.decode("utf-8") if isinstance(text, bytes) else text

    def refuse(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not a JSON number", document,
                                   max(document.find(name), 0))

    try:
        return json.loads(document, parse_constant=refuse)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", document, 0) from None

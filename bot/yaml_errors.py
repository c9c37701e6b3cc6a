"""YAML syntax errors, where a list's items are, and misspelt keys, told for people.

PyYAML's message names the stream (``in "<unicode string>", line 3, column 5``) and counts
lines from the text it was given, which for an article is the front matter, one line below
the file's first. :func:`yaml_problem` says the same thing against the file's line numbers.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable
from typing import Any

import yaml


def yaml_problem(error: yaml.YAMLError, first_line: int = 1) -> tuple[int | None, str]:
    """The file line (1-based) where ``error`` lies, when YAML knows it, and what is wrong.

    Args:
        error: what ``yaml.safe_load`` raised.
        first_line: the file line of the text's first line (2 for a front matter block
            opened by a ``---`` line).
    """
    if not isinstance(error, yaml.MarkedYAMLError):
        return None, str(error)
    mark = error.problem_mark or error.context_mark
    parts = [part for part in (error.context, error.problem) if part]
    if error.context_mark is not None and error.problem_mark is not None \
            and error.context_mark.line != error.problem_mark.line:
        parts[0] = f"{parts[0]} (from line {error.context_mark.line + first_line})"
    reason = ", ".join(parts) or "malformed YAML"
    if mark is None:
        return None, reason
    return mark.line + first_line, f"{reason} (column {mark.column + 1})"


def item_lines(text: str, key: str) -> list[int]:
    """The file line (1-based) where each item of the top-level list ``key`` starts; [] when
    the text has no such list (or does not parse)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for name, value in root.value:
        if name.value == key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, noting each key a mapping names twice (PyYAML keeps the last
    value without a word, so the first one written is silently lost)."""

    def __init__(self, stream: str, refuse: bool) -> None:
        super().__init__(stream)
        self.refuse = refuse
        self.duplicates: list[tuple[int, Any]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, Hashable) and key in seen:
                if self.refuse:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark,
                        f"found {key!r} twice", key_node.start_mark)
                self.duplicates.append((key_node.start_mark.line + 1, key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def safe_load_unique(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (a ``yaml.YAMLError`` with the line)."""
    loader = _UniqueKeyLoader(text, refuse=True)
    try:
        return loader.get_single_data()  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def safe_load_noting_duplicates(text: str) -> tuple[Any, list[tuple[int, Any]]]:
    """``yaml.safe_load``, and the (file line, key) of each key a mapping names twice, so that
    a caller can name them with every other problem."""
    loader = _UniqueKeyLoader(text, refuse=False)
    try:
        return loader.get_single_data(), loader.duplicates  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` is most likely a misspelling of, if any ("did you mean")."""
    found = difflib.get_close_matches(name, list(known), n=1)
    return found[0] if found else None

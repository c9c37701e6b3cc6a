"""Article files: parsing, validation errors that say where, and the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.articles import (
    ArticleError,
    ArticleErrors,
    load_articles,
    parse_article,
    render_article,
)

GOOD = """---
id: parcel-late-track
title: "Your parcel is late: track it"
moments: [parcel_late]
status: published
version: 2
owner: team@northwind.example
summary: Most late parcels arrive within 2 days.
---
Intro.

1. Open the e-mail.
2. Press Track.
"""


def test_parses_fields_steps_and_defaults() -> None:
    article = parse_article(GOOD, "a.md")
    assert article.id == "parcel-late-track"
    assert article.title == "Your parcel is late: track it"
    assert article.version == 2 and article.is_published
    assert article.steps() == ["Open the e-mail.", "Press Track."]
    assert "sms" in article.channels  # all channels unless narrowed


def test_render_then_parse_is_the_same_article() -> None:
    article = parse_article(GOOD, "a.md")
    assert parse_article(render_article(article), "a.md") == article


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("no front matter", None, "no front matter"),
        ("---\nid: [unclosed\n---\nbody\n", None, "broken front matter"),
        (GOOD.replace('title: "Your parcel is late: track it"\n', ""), "title", "missing"),
        (GOOD.split("---\n")[0] + "---\n" + GOOD.split("---\n")[1] + "---\n  \n", "body",
         "empty"),
        (GOOD.replace("moments: [parcel_late]", "moments: []"), "moments", "at least one"),
        (GOOD.replace("status: published", "status: live"), "status", "'live'"),
        (GOOD.replace("version: 2", "version: two"), "version", "whole number"),
        (GOOD.replace("moments: [parcel_late]", "moments: [parcel_late]\nchannels: [fax]"),
         "channels", "unknown channel"),
        (GOOD + "x" * 20_001, "body", "more than"),
    ],
)
def test_bad_articles_say_file_field_and_reason(text: str, field: str | None, reason: str) -> None:
    with pytest.raises(ArticleError) as error:
        parse_article(text, "articles/x.md")
    assert error.value.field_name == field
    assert reason in str(error.value)
    assert str(error.value).startswith("articles/x.md")


def test_directory_load_checks_ids_and_moments(tmp_path: Path) -> None:
    (tmp_path / "parcel-late-track.md").write_text(GOOD, encoding="utf-8")
    assert [a.id for a in load_articles(tmp_path, ["parcel_late"])] == ["parcel-late-track"]
    with pytest.raises(ArticleError, match="unknown moment"):
        load_articles(tmp_path, ["charged_twice"])
    (tmp_path / "other-name.md").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ArticleError, match="differs from the file name"):
        load_articles(tmp_path)


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"---\nid: bad\n---\n\xff\xfe body")
    with pytest.raises(ArticleError, match="not UTF-8"):
        load_articles(tmp_path)


def test_shipped_articles_are_valid(articles) -> None:
    assert sum(a.is_published for a in articles) >= 35
    assert all(a.steps() for a in articles if a.is_published)


def test_broken_yaml_names_the_file_line_not_the_front_matter_line() -> None:
    text = "---\nid: x\ntitle: [unclosed\nmoments: [parcel_late]\n---\nbody\n"
    with pytest.raises(ArticleError) as error:
        parse_article(text, "articles/x.md")
    message = str(error.value)
    assert message.startswith("articles/x.md: broken front matter: line 4: ")
    assert "from line 3" in message and "<unicode string>" not in message


def test_every_field_problem_of_a_file_is_named_at_once() -> None:
    text = GOOD.replace("status: published", "status: live").replace("version: 2", "version: 0")
    with pytest.raises(ArticleError) as error:
        parse_article(text, "articles/x.md")
    assert "2 errors" in str(error.value)
    assert "status: 'live'" in str(error.value) and "version: 0" in str(error.value)


def test_directory_load_names_every_bad_file(tmp_path: Path) -> None:
    (tmp_path / "parcel-late-track.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "a-bad.md").write_text("no front matter", encoding="utf-8")
    (tmp_path / "b-bad.md").write_text(GOOD.replace("id: parcel-late-track", "id: b-bad")
                                       .replace("[parcel_late]", "[parcel_lost]"),
                                       encoding="utf-8")
    with pytest.raises(ArticleErrors) as error:
        load_articles(tmp_path, ["parcel_late"])
    assert [Path(e.source).name for e in error.value.errors] == ["a-bad.md", "b-bad.md"]
    assert "no front matter" in str(error.value) and "unknown moment(s) ['parcel_lost']" in str(
        error.value)


def test_misspelt_or_repeated_fields_are_named_not_ignored() -> None:
    with pytest.raises(ArticleError) as error:
        parse_article(GOOD.replace("status: published", "stauts: published"), "a.md")
    assert "stauts: unknown field (did you mean status?)" in str(error.value)
    with pytest.raises(ArticleError) as error:
        parse_article(GOOD.replace("version: 2", "version: 2\ntitle: Second"), "a.md")
    assert "broken front matter: line 7: " in str(error.value) and "'title' twice" in str(
        error.value)


def test_a_byte_order_mark_before_the_front_matter_is_accepted() -> None:
    assert parse_article("\ufeff" + GOOD, "a.md").id == "parcel-late-track"

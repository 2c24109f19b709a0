"""The forms macro renders extra attributes once-escaped (issue: `placeholder=&#34;e.g.`
and `class=&#34;tall&#34;` reached the browser), and no template passes them as a string."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from campus.http.templates import TEMPLATES_DIR
from campus.http.web import templates

TEMPLATES = TEMPLATES_DIR


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "textarea"):
            self.found[tag] = dict(attrs)


def _render(call: str) -> dict[str, dict[str, str | None]]:
    source = '{% import "macros/forms.html" as f %}' + call
    html = templates.env.from_string(source).render(csrf_token="t")
    parser = _Attributes()
    parser.feed(html)
    return parser.found


def test_input_attributes_reach_the_browser_as_written() -> None:
    found = _render(
        """{{ f.field("title", "Title", {}, {}, attrs={"placeholder": 'e.g. "Lesson 3" <b>&'}) }}"""
    )
    assert found["input"]["placeholder"] == 'e.g. "Lesson 3" <b>&'
    assert found["input"]["name"] == "title"


def test_textarea_attributes_reach_the_browser_as_written() -> None:
    found = _render(
        '{{ f.field("content", "Content", {}, {}, type="textarea",'
        ' attrs={"class": "tall", "rows": 3}) }}'
    )
    assert found["textarea"]["class"] == "tall"
    assert found["textarea"]["rows"] == "3"


def test_no_template_passes_attributes_as_a_string() -> None:
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"attrs=['\"]", line)
    ]
    assert offenders == []


def test_counted_words_agree_with_their_number() -> None:
    render = templates.env.from_string(
        '{{ 1 | counted("student") }}|{{ 2 | counted("student") }}|{{ 0 | counted("lesson") }}'
        '|{{ 1 | counted("quiz", "quizzes") }}|{{ 3 | counted("quiz", "quizzes") }}'
        '|{{ 12000 | counted("student") }}|{{ none | counted("point") }}'
    ).render
    assert render() == ("1 student|2 students|0 lessons|1 quiz|3 quizzes|12,000 students|0 points")

"""The catalogs are complete: every message of the marked templates and of the Python code
is in each catalog, and Russian translates all of them (every plural form), with the same
placeholders. Extraction is Babel's own (the mapping of ``babel.cfg``), run here, so the
test fails the moment a marked string is added without its translation.

``MARKED_TEMPLATE_DIRS`` lists the template folders whose strings are marked: every one
(a test fails when a new folder is not listed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from campus.kit import i18n

SRC = Path(i18n.__file__).resolve().parent.parent
TEMPLATES = SRC / "templates"
# Template folders (under campus/templates) whose strings are marked; "." is base.html.
MARKED_TEMPLATE_DIRS = [
    ".",
    "accounts",
    "assessments",
    "certificates",
    "chat",
    "courses",
    "email",
    "learning",
    "macros",
    "media",
    "notifications",
    "payments",
    "tasks",
]
JINJA = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


Message = tuple[str | tuple[str, ...], str | None]  # (msgid, msgctxt)


def _extracted() -> dict[Message, str]:
    """(msgid, context) -> where it was found, from the Python code and the marked
    templates (a context, ``pgettext("free lesson", "Preview")``, tells apart one English
    word with two meanings)."""
    found: dict[Message, str] = {}
    python = extract_from_dir(str(SRC), method_map=[("**.py", "python")])
    for filename, _line, message, _comments, context in python:
        found.setdefault((message, context), f"campus/{filename}")
    for folder in MARKED_TEMPLATE_DIRS:
        base = TEMPLATES / folder
        patterns = ["*.html"] if folder == "." else ["**.html", "**.txt"]
        method_map = [(pattern, "jinja2") for pattern in patterns]
        for filename, _line, message, _comments, context in extract_from_dir(
            str(base), method_map=method_map, options_map=dict.fromkeys(patterns, JINJA)
        ):
            found.setdefault((message, context), f"templates/{folder}/{filename}")
    return found


def _catalog(locale: str) -> Catalog:
    with i18n.catalog_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def _key(message: str | tuple[str, ...]) -> str:
    return message if isinstance(message, str) else message[0]


@pytest.fixture(scope="module")
def extracted() -> dict[Message, str]:
    return _extracted()


@pytest.mark.parametrize("locale", list(i18n.LOCALES))
def test_every_marked_string_is_in_the_catalog(locale: str, extracted: dict[Message, str]) -> None:
    catalog = _catalog(locale)
    missing = [
        f"{where}: {_key(message)!r}"
        for (message, context), where in extracted.items()
        if catalog.get(_key(message), context=context) is None
    ]
    assert not missing, (
        "not in the catalog (run `uv run pybabel extract` and `pybabel update`, see "
        "docs/architecture.md):\n" + "\n".join(missing)
    )


def test_russian_translates_every_message_with_the_same_placeholders() -> None:
    catalog = _catalog("ru")
    assert catalog.num_plurals == 3
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(strings) or len(strings) != (3 if message.pluralizable else 1):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, "\n".join(problems)


def test_catalogs_hold_no_stale_messages(extracted: dict[Message, str]) -> None:
    """A message no code uses any more leaves the catalogs (``pybabel update``)."""
    wanted = {(_key(message), context) for message, context in extracted}
    for locale in i18n.LOCALES:
        stale = [m.id for m in _catalog(locale) if m.id and (_key(m.id), m.context) not in wanted]
        assert not stale, f"{locale}: {stale}"


def test_every_template_folder_is_marked() -> None:
    """A new template folder joins ``MARKED_TEMPLATE_DIRS`` (so the tests above cover it)."""
    folders = {p.name for p in TEMPLATES.iterdir() if p.is_dir()}
    assert folders == set(MARKED_TEMPLATE_DIRS[1:])

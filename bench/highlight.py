"""How long one Markdown render takes with highlighted code (issue #18): prints the figures.

    uv run python bench/highlight.py

A lesson at the 200,000-character limit made of fenced Python blocks, each under the
highlighter's block limit (the first 50,000 characters, the document's budget, are
highlighted); the same with the blocks over the limit (shown plain); the same text without
a language. Each rendered by ``campus.kit.markdown.render`` (what the worker process runs)
five times, best and worst reported. The render bound (``CAMPUS_MARKDOWN_TIMEOUT_SECONDS``)
is 2 s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from campus.kit import highlight, markdown

LIMIT = 200_000
SOURCE = (Path(__file__).resolve().parents[1] / "src/campus/courses/pages.py").read_text()


def lesson(block_chars: int, language: str) -> str:
    code = (SOURCE * (block_chars // len(SOURCE) + 1))[:block_chars].replace("```", "'''")
    block = f"```{language}\n{code}\n```\n\n"
    return (block * (LIMIT // len(block) + 1))[:LIMIT]


def measure(name: str, text: str) -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        markdown.render(text)
        times.append(time.perf_counter() - started)
    rate = len(text) / min(times) / 1e6
    print(f"{name:48} best {min(times):.3f} s  worst {max(times):.3f} s  ({rate:.2f} M chars/s)")


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}, block limit {highlight.MAX_BLOCK_CHARS:,}")
    under = highlight.MAX_BLOCK_CHARS - 100
    measure("200k chars, python blocks under the limit", lesson(under, "python"))
    measure("200k chars, python blocks over the limit", lesson(under * 2, "python"))
    measure("200k chars, blocks without a language", lesson(under, ""))


if __name__ == "__main__":
    main()

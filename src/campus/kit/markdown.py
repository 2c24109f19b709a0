"""Markdown to sanitised HTML, rendered once, off the event loop, within a time bound.

Rendering is pure Python and, for some inputs, far from linear: ``"!["`` repeated 99,500
times (under the 200,000 character limit of a lesson) takes about ten seconds. On the event
loop that would stall every request of the process for as long, on every view. So:

- :func:`render` is the one renderer and sanitiser (markdown-it, raw HTML off, then nh3);
- :func:`render_html` returns the HTML of a text from an in-process cache keyed by the
  text's SHA-256, and on a miss renders it in a worker *process* (the GIL would let a
  thread stall the loop anyway), waiting at most ``timeout`` seconds; a render that takes
  longer is killed and the text is shown unformatted (escaped, in a ``prose-plain``
  block) — that answer is cached too, so a pathological text costs its bound once;
- :func:`prime` renders a text in the background right after it was written (services
  call it after the commit), so the views that follow find it in the cache;
- :func:`cached_html` is the synchronous lookup the templates use (``markdown`` filter):
  it never renders, a miss shows the text escaped.

Every process keeps its own cache (bounded in bytes, least recently used out first).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import multiprocessing
import re
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import nh3
from markdown_it import MarkdownIt

from campus.log import get_logger

logger = get_logger("campus.markdown")

# Raw HTML in Markdown is shown as text (html=False); the output is sanitised again by nh3,
# so a `<script>`, an `onerror=` or a `javascript:` link in a lesson never runs.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
DEFAULT_TIMEOUT_SECONDS = 2.0
CACHE_MAX_BYTES = 32 * 1024 * 1024


def sanitise(markup: str) -> str:
    """The one sanitiser of user HTML (tags, attributes and URL schemes allow-listed)."""
    return nh3.clean(
        markup,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render(text: str) -> str:
    """Markdown to safe HTML, synchronously (runs in the worker process)."""
    return sanitise(_markdown.render(text))


def plain(text: str) -> str:
    """The text, escaped and unformatted: what a view shows when rendering is not done."""
    return f'<div class="prose-plain">{html.escape(text)}</div>'


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Cache:
    """Rendered HTML by text digest, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[str, str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> str | None:
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return found

    def put(self, key: str, value: str) -> None:
        if key in self.entries:
            return
        self.entries[key] = value
        self.size += len(value)
        while self.size > self.max_bytes and self.entries:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped)


class Renderer:
    """One worker process (started on the first miss) and the cache, per app process."""

    def __init__(self, *, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.cache = _Cache(max_bytes)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._lock = asyncio.Lock()
        self.timeouts = 0
        self.timeout = DEFAULT_TIMEOUT_SECONDS

    def configure(self, *, timeout: float) -> None:
        """The bound of one render (``CAMPUS_MARKDOWN_TIMEOUT_SECONDS``), set by the app."""
        self.timeout = timeout

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter that imports only this module's needs (a fork
            # would copy the app's sockets, threads and loop).
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # A render past its bound cannot be cancelled: end the worker itself (the pool
        # keeps its processes in ``_processes``; there is no public kill before 3.14).
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def cached(self, text: str) -> str | None:
        return self.cache.get(_key(text))

    async def render_html(self, text: str) -> str:
        key = _key(text)
        found = self.cache.get(key)
        if found is not None:
            return found
        if not text.strip():
            return ""
        pending = self._pending.get(key)
        if pending is not None:  # the same text is being rendered: wait for that one
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await self._render_bounded(text, self.timeout)
            self.cache.put(key, result)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            del self._pending[key]

    async def _render_bounded(self, text: str, bound: float) -> str:
        # One render at a time per process: the worker is one process, and a render
        # that must be killed should take no other render with it.
        async with self._lock:
            loop = asyncio.get_running_loop()
            try:
                if self._pool is None:
                    # Start the worker first, outside the bound: a spawned interpreter that
                    # imports the renderer can take seconds on a busy machine, and the first
                    # text after a start (or a kill) fell back to plain text, cached.
                    await loop.run_in_executor(self._executor(), render, "")
                job = loop.run_in_executor(self._executor(), render, text)
                return await asyncio.wait_for(job, bound)
            except TimeoutError:
                self.timeouts += 1
                logger.warning("markdown_render_timeout", chars=len(text), seconds=bound)
                self._kill()
                return plain(text)
            except BrokenProcessPool:
                self._kill()
                logger.warning("markdown_worker_died", chars=len(text))
                return plain(text)

    def prime(self, text: str | None) -> None:
        """Render ``text`` in the background (after a write), so views find it cached."""
        if not text or not text.strip() or self.cache.entries.get(_key(text)) is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.render_html(text))
        _background.add(task)
        task.add_done_callback(_background.discard)

    def close(self) -> None:
        self._kill()


_background: set[asyncio.Task[str]] = set()
renderer = Renderer()


async def render_html(text: str | None) -> str:
    """The HTML of ``text``: cached, else rendered in the worker within the bound."""
    return await renderer.render_html(text or "")


def prime(text: str | None) -> None:
    """Render ``text`` in the background once the write is committed (call after commit)."""
    renderer.prime(text)


def excerpt(text: str | None, limit: int = 400) -> str:
    """Plain text for a summary (catalog cards): Markdown's punctuation dropped by a
    linear scan of the first ``limit`` characters, never a render."""
    head = (text or "")[:limit]
    return " ".join(_MARKUP.sub(" ", head).split())


_MARKUP = re.compile(r"\]\([^)\s]*\)|https?://\S+|[#*_`>~|\[\]!]+")


def cached_html(text: str | None) -> str:
    """The cached HTML of ``text``, or the text escaped: never renders (for templates)."""
    if not text or not text.strip():
        return ""
    found = renderer.cached(text)
    return found if found is not None else plain(text)

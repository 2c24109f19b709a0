"""Markdown to sanitised HTML, rendered once, off the event loop, within a time bound.

Rendering is pure Python and, for some inputs, far from linear: ``"!["`` repeated 99,500
times (under the 200,000 character limit of a lesson) takes about ten seconds. On the event
loop that would stall every request of the process for as long, on every view. So:

- :func:`render` is the one renderer and sanitiser (markdown-it, raw HTML off, fenced code
  highlighted by Pygments (``campus.kit.highlight``), then nh3);
- :func:`render_html` returns the HTML of a text from an in-process cache keyed by the
  text's SHA-256, and on a miss renders it in a worker *process* (the GIL would let a
  thread stall the loop anyway), waiting at most ``timeout`` seconds; a render that takes
  longer is killed and the text is shown unformatted (escaped, in a ``prose-plain``
  block) — that answer is cached too, so a pathological text costs its bound once; the
  worker is started and warmed before any render is timed (the app starts it with its
  start-up), and a worker that cannot start shows the text plain without caching that;
- :func:`preview_html` renders a draft the same way without caching it (the editor's
  preview);
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

from campus.kit import highlight
from campus.log import get_logger

logger = get_logger("campus.markdown")

# Raw HTML in Markdown is shown as text (html=False); the output is sanitised again by nh3,
# so a `<script>`, an `onerror=` or a `javascript:` link in a lesson never runs.
# Fenced code with a known language gets Pygments' token spans (classes only, no styles).
_markdown = MarkdownIt(
    "commonmark",
    {
        "html": False,
        "linkify": False,
        "typographer": False,
        "highlight": highlight.fenced_block,
    },
)
_markdown.enable(["table", "strikethrough"])
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
# ``class`` is allowed only with exactly the values the highlighter emits; any other class
# (typed by a writer through a fence's language, say) is dropped.
_ALLOWED_CLASSES = {
    "pre": set(highlight.PRE_CLASSES),
    "code": set(highlight.CODE_CLASSES),
    "span": set(highlight.TOKEN_CLASSES),
}
DEFAULT_TIMEOUT_SECONDS = 2.0
CACHE_MAX_BYTES = 32 * 1024 * 1024


def _own_origin_images(tag: str, attribute: str, value: str) -> str | None:
    """Images come from Campus's own origin only (a path such as ``/media/...``): an
    image from elsewhere would leak who reads the lesson to that site, and the pages'
    CSP (``img-src 'self'``) would block it anyway. Another ``src`` is dropped."""
    if tag == "img" and attribute == "src":
        local = value.startswith("/") and not value.startswith("//") and "\\" not in value
        return value if local else None
    return value


def sanitise(markup: str) -> str:
    """The one sanitiser of user HTML (tags, attributes and URL schemes allow-listed;
    images from Campus's own origin only)."""
    return nh3.clean(
        markup,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        allowed_classes=_ALLOWED_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_own_origin_images,
    )


def render(text: str) -> str:
    """Markdown to safe HTML, synchronously (runs in the worker process)."""
    with highlight.budget():
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


STARTUP_TIMEOUT_SECONDS = 60.0
_WARM_UP = "# warm-up\n\n```python\nprint('ok')\n```\n"


class _NotRendered(Exception):
    """The worker could not start: the markup to show now, not to be cached."""

    def __init__(self, markup: str) -> None:
        super().__init__("markdown worker unavailable")
        self.markup = markup


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

    async def _executor(self) -> ProcessPoolExecutor:
        """The worker, started and warmed (imports done, one render run) before any render
        is timed: starting an interpreter is not the text's fault, and on a loaded machine
        it alone can take longer than the bound."""
        if self._pool is None:
            # spawn: a fresh interpreter that imports only this module's needs (a fork
            # would copy the app's sockets, threads and loop).
            pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            try:
                await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(pool, render, _WARM_UP),
                    STARTUP_TIMEOUT_SECONDS,
                )
            except BaseException:
                self._pool = pool
                self._kill()
                raise
            self._pool = pool
        return self._pool

    async def start(self) -> None:
        """Start the worker ahead of the first view (the app's start-up calls it)."""
        async with self._lock:
            try:
                await self._executor()
            except (TimeoutError, BrokenProcessPool):
                logger.warning("markdown_worker_start_failed")

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
            try:
                result = await self._render_bounded(text, self.timeout)
            except _NotRendered as not_rendered:
                future.set_result(not_rendered.markup)
                return not_rendered.markup
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
                executor = await self._executor()
            except (TimeoutError, BrokenProcessPool):
                # The worker did not start: show the text plain this time, but keep no
                # answer (the next view tries again).
                logger.warning("markdown_worker_start_failed", chars=len(text))
                raise _NotRendered(plain(text)) from None
            try:
                job = loop.run_in_executor(executor, render, text)
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

    async def render_uncached(self, text: str) -> str:
        """The HTML of ``text`` like :meth:`render_html` (same worker, same bound), but a
        miss is not kept: an editor's preview renders many drafts that nobody will read
        again, and they must not push the lessons out of the cache."""
        found = self.cache.get(_key(text))
        if found is not None:
            return found
        if not text.strip():
            return ""
        try:
            return await self._render_bounded(text, self.timeout)
        except _NotRendered as not_rendered:
            return not_rendered.markup

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


async def preview_html(text: str | None) -> str:
    """The HTML of a draft (an editor's preview): the same renderer, sanitiser and bound as
    :func:`render_html`, without keeping the answer in the cache."""
    return await renderer.render_uncached(text or "")


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

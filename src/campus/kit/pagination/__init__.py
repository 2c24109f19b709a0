"""List pagination in four pieces, each its own module (nothing is re-exported here):

- :mod:`.cursor`: the signed, opaque keyset cursor (``Keyset`` <-> token) and how sort
  values are written into it.
- :mod:`.params`: ``skip``/``limit``/``sort``/``cursor`` validated into a plain
  :class:`~.params.PageParams` value (for API lists and for pages alike).
- :mod:`.envelope`: the result of one page (:class:`~.envelope.PageResult`) and the
  API.md §1 envelope it becomes (:class:`~.envelope.Page`), ``next_cursor`` included.
- :mod:`.statements`: the ordered, positioned and limited page statement and the count
  statement built from ``PageParams`` (cached per shape), and ``fetch_page``, which a
  domain repository calls with its session to run them.

HTTP (the ``Link: rel="next"`` header, the query parameters) is ``campus.http.deps``'s.
"""

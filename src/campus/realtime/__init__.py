"""Real time: the WebSocket at ``/api/v1/ws`` and the fan-out of its frames.

``broadcast`` (no web framework): the :class:`~campus.realtime.broadcast.Broadcaster`
interface, in-process by default and Redis pub/sub when ``CAMPUS_REDIS_URL`` is set, and
:func:`~campus.realtime.broadcast.publish_after_commit` for services. ``socket``: the
endpoint, its frames and the connections of this process. ``service``/``repository``: the
single-use socket tickets.
"""

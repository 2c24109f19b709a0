"""Process-level tuning applied when the application starts serving.

CPython's cyclic garbage collector scans every tracked object of a generation when it
collects it. A started Campus process holds well over 100,000 long-lived objects (modules,
the FastAPI and SQLAlchemy machinery, compiled statements), and under load the objects of
requests in flight are promoted into the old generation, so full collections come often and
each walks the whole heap: measured at about 80 ms a collection and a quarter of a core
under load (docs/performance.md). Two documented remedies:

* ``gc.freeze()`` once the app is built moves everything alive into a permanent generation
  that collections skip (what the ``gc`` documentation recommends for long-running servers).
* A larger first-generation threshold lets a request's short-lived objects die young
  instead of being promoted by collections that run every 700 allocations.
"""

from __future__ import annotations

import gc


def tune_garbage_collector(*, gen0_threshold: int) -> None:
    """Freeze what startup created and set the young-generation threshold.

    ``gen0_threshold`` 0 leaves the interpreter's thresholds as they are.
    """
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)

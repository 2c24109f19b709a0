"""The registry of domains: the ONE place a domain package is named.

A domain is a package ``campus/<name>/`` with some of these modules, each found by name:

- ``api.py`` with ``router`` — JSON endpoints, mounted under ``/api/v1``;
- ``pages.py`` with ``router`` — server-rendered pages (built with ``page_router()``);
- ``demo.py`` — demo-data loaders registered with ``campus.demo.demo_loader``;
- its tables in ``campus/models/<name>.py`` (every module of ``campus.models`` is loaded
  when that package is imported, so tables need no registration).

The app (``campus.main``) and ``campus demo`` take their routers and loaders from here, and
``tests/foundation/test_architecture.py`` fails when a package with an ``api``, ``pages`` or
``service`` module is missing from :data:`DOMAINS`.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# In the order requests are matched against their routers: the most requested first.
DOMAINS: tuple[str, ...] = (
    "courses",
    "tasks",
    "learning",
    "media",
    "assessments",
    "certificates",
    "accounts",
    "payments",
    "chat",
    "notifications",
    "realtime",
)


def domain_modules(kind: str) -> list[ModuleType]:
    """Each registered domain's module ``kind`` (``api``, ``pages``, ``demo``...), if it has one."""
    found: list[ModuleType] = []
    for name in DOMAINS:
        qualified = f"campus.{name}.{kind}"
        if importlib.util.find_spec(qualified) is not None:
            found.append(importlib.import_module(qualified))
    return found

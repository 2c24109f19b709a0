"""The login benchmark of issue 4, on its own.

    uv run bench/login.py [--db auto|postgres|sqlite|URL] [--scale 10k] [--duration 10]

Starts ``campus serve`` on a seeded database (see bench/run.py), then 16 concurrent clients
sign in as fast as they can (POST /api/v1/auth/login with the seeded student's form). It
prints sign-ins per second, p50/p99 latency, the event-loop lag p99 measured inside the
server during the flood (it must stay under 50 ms: hashing runs in worker threads, off the
loop), and the latency of another endpoint while the flood goes on. The last line is the
same ``bench summary:`` line as bench/run.py, with n/a for what was not measured.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/ is not a package: found through sys.path

if __name__ == "__main__":
    sys.exit(run.main(["--only", "login", *sys.argv[1:]]))

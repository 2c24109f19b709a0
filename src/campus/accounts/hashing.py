"""Password hashing with pwdlib: Argon2id, bcrypt still verified (and upgraded).

Hashing is CPU-bound and slow by design, so it always runs in a worker thread, and at most
``password_hash_concurrency`` hashes run at once.
"""

from __future__ import annotations

from functools import lru_cache

import anyio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from campus.config import Settings


class Passwords:
    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, concurrency: int
    ) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),
                BcryptHasher(),
            )
        )
        self._limiter = anyio.CapacityLimiter(concurrency)
        # Verified against when the email is unknown, so both paths cost the same time.
        self._dummy_hash = self._hash.hash("campus-dummy-password-for-timing")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify_and_update(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(valid, new_hash): new_hash is set when the stored hash should be upgraded."""
        target = hashed or self._dummy_hash
        valid, updated = await anyio.to_thread.run_sync(
            self._hash.verify_and_update, password, target, limiter=self._limiter
        )
        if hashed is None:
            return False, None
        return bool(valid), updated


@lru_cache(maxsize=8)
def _passwords(memory_kib: int, time_cost: int, parallelism: int, concurrency: int) -> Passwords:
    return Passwords(
        memory_kib=memory_kib, time_cost=time_cost, parallelism=parallelism, concurrency=concurrency
    )


def get_passwords(settings: Settings) -> Passwords:
    """One hasher (and one concurrency limiter) per set of parameters, per process."""
    return _passwords(
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
        settings.password_hash_concurrency,
    )

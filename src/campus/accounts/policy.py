"""The password policy of API.md §2: 8..128 characters, not the email, not a common password.

The common passwords are the 30,000 most frequent passwords of the ``zxcvbn`` package
(Dropbox's password-strength estimator, MIT licence), loaded once, on first use.
"""

from __future__ import annotations

from functools import lru_cache

from campus.kit.i18n import N_

MIN_LENGTH = 8
MAX_LENGTH = 128

TOO_SHORT = f"Password must be at least {MIN_LENGTH} characters long."
TOO_LONG = f"Password must be at most {MAX_LENGTH} characters long."
SAME_AS_EMAIL = N_("Password must not be the same as your email address.")
TOO_COMMON = N_("This password is too common; choose a less predictable one.")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The well-known passwords, lower-cased (loaded lazily, once per process)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.strip().lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` is not acceptable (one clear sentence), or None when it is."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    if email is not None and password.strip().lower() == email.strip().lower():
        return SAME_AS_EMAIL
    if password.strip().lower() in common_passwords():
        return TOO_COMMON
    return None

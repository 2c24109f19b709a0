"""The one error tree of Campus.

Services raise these; ``campus.http.errors`` is the only place that turns them into
RFC 9457 problem+json (API) or an HTML error page (web pages). Each class carries its HTTP
status and a stable ``code`` that becomes the end of the problem ``type``.

Languages: the problem's ``title`` and ``detail`` are English (the API's, for developers).
A message a page may show is marked at the source, ``NotFound(N_("Course not found."))``;
one with values keeps its template and the values apart, ``Conflict(N_("... %(limit)s."),
variables={"limit": FileSize(n)})``, so that :meth:`CampusError.localized` translates the
template itself (the catalog's msgid) and fills it in the page's formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from campus.kit.i18n import N_, english, translate


class CampusError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = N_("Bad Request")
    # Most errors roll the unit of work back. A few must keep what was written before they
    # were raised (e.g. revoking a session on refresh-token reuse): they set this to True.
    commit_unit_of_work: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        variables: Mapping[str, object] | None = None,
        **extra: Any,
    ) -> None:
        self.message = detail or self.title  # the template, as marked
        self.variables = dict(variables or {})
        self.detail = english(self.message, self.variables)  # the API's
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)

    def localized(self) -> str:
        """The message in the locale in progress (a page's): the catalog's translation of
        the marked template, filled in; an unmarked message stays English."""
        return translate(self.message, self.variables)

    def committing(self) -> CampusError:
        """Raise this error but still commit what the request wrote before it."""
        self.commit_unit_of_work = True
        return self


class BadRequest(CampusError):
    pass


class ValidationFailed(CampusError):
    status = 422
    code = "validation-error"
    title = N_("Unprocessable Content")

    def __init__(
        self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **kw: Any
    ) -> None:
        super().__init__(detail, **kw)
        self.errors = errors or []

    @classmethod
    def field(cls, loc: list[str | int], msg: str, type_: str = "value_error") -> ValidationFailed:
        """A 422 about one field, in the same shape as a schema validation error."""
        return cls(msg, errors=[{"loc": loc, "msg": msg, "type": type_}])


class Unauthenticated(CampusError):
    status = 401
    code = "unauthenticated"
    title = N_("Unauthorized")

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail or N_("Authentication required."), **kw)


class PaymentRequired(CampusError):
    status = 402
    code = "payment-required"
    title = N_("Payment Required")


class Forbidden(CampusError):
    status = 403
    code = "forbidden"
    title = N_("Forbidden")


class NotFound(CampusError):
    status = 404
    code = "not-found"
    title = N_("Not Found")


class Conflict(CampusError):
    status = 409
    code = "conflict"
    title = N_("Conflict")


class InvalidState(Conflict):
    """The request is valid but the object's state does not allow it."""

    code = "invalid-state"


class PayloadTooLarge(CampusError):
    status = 413
    code = "payload-too-large"
    title = N_("Content Too Large")


class UnsupportedMediaType(CampusError):
    """A file whose content is not of a kind accepted there (checked by content)."""

    status = 415
    code = "unsupported-media-type"
    title = N_("Unsupported Media Type")


class RateLimited(CampusError):
    status = 429
    code = "rate-limited"
    title = N_("Too Many Requests")

    def __init__(self, detail: str | None = None, *, retry_after: int, **kw: Any) -> None:
        headers = dict(kw.pop("headers", {}) or {})
        headers["Retry-After"] = str(max(1, retry_after))
        super().__init__(detail or N_("Too many requests; try again later."), headers=headers, **kw)
        self.retry_after = max(1, retry_after)


class BadGateway(CampusError):
    """A service Campus depends on (e.g. the payment provider) answered with an error."""

    status = 502
    code = "bad-gateway"
    title = N_("Bad Gateway")


class ServiceUnavailable(CampusError):
    status = 503
    code = "service-unavailable"
    title = N_("Service Unavailable")

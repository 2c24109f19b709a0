"""The job registry: ``@job("name")`` registers an async function that takes ids.

A job is ``async def fn(ctx: JobContext, *, some_id: int, ...) -> None``. Its keyword
parameters become a pydantic model (unknown or missing fields, wrong types: a malformed
payload, which fails the job for good). Domain jobs live in ``campus/<domain>/jobs.py``
and are found through the domain registry (``campus.domains``), like their routers.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, create_model

from campus.domains import domain_modules

if TYPE_CHECKING:
    from campus.jobs.context import JobContext

JobFunction = Callable[..., Awaitable[None]]

#: Job modules outside the domains; each registered domain's ``jobs.py`` is found through
#: ``campus.domains`` (imported by :func:`load_jobs`, in the app and the worker).
JOB_MODULES: tuple[str, ...] = ("campus.email.jobs",)


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    fn: JobFunction
    params: type[BaseModel]
    max_tries: int | None
    #: the Settings attribute holding this job's crontab, for scheduled jobs
    schedule_setting: str | None


_REGISTRY: dict[str, JobSpec] = {}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _params_model(name: str, fn: JobFunction) -> type[BaseModel]:
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    parameters = list(inspect.signature(fn).parameters.values())
    if not parameters or parameters[0].kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
        raise TypeError(f"job {name}: the first parameter must be the job context")
    for parameter in parameters[1:]:
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"job {name}: arguments must be keyword-only ({parameter.name})")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    model_name = "Params_" + name.replace(".", "_")
    return create_model(model_name, __base__=_Params, **fields)


def job(
    name: str, *, max_tries: int | None = None, schedule_setting: str | None = None
) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Register ``fn`` as the job ``name`` (``max_tries`` defaults to CAMPUS_JOBS_MAX_TRIES)."""

    def register(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        existing = _REGISTRY.get(name)
        # The same function imported again (a reload) replaces itself; another one is a clash.
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"two jobs are named {name!r}")
        _REGISTRY[name] = JobSpec(
            name=name,
            fn=fn,
            params=_params_model(name, fn),
            max_tries=max_tries,
            schedule_setting=schedule_setting,
        )
        return fn

    return register


def load_jobs(extra_modules: Iterable[str] = ()) -> dict[str, JobSpec]:
    """Import every job module (the domains' and ``extra_modules``) and return the registry."""
    for module in (*JOB_MODULES, *extra_modules):
        importlib.import_module(module)
    domain_modules("jobs")
    return dict(_REGISTRY)


def get_job(name: str) -> JobSpec | None:
    return _REGISTRY.get(name)


def scheduled_jobs() -> list[JobSpec]:
    return [spec for spec in _REGISTRY.values() if spec.schedule_setting]


__all__ = ["JOB_MODULES", "JobContext", "JobSpec", "get_job", "job", "load_jobs"]

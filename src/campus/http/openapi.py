"""The OpenAPI schema, completed in one place: every response an operation can give.

FastAPI documents what a route declares (its success and the ``responses=`` it lists), and
a 422 with its own error model. Campus answers every error as RFC 9457 problem+json from
shared layers, whatever the route: the text guard and validation (422), the body limit
(413), the API rate limit (429), bearer authentication (401), permission checks (403),
path lookups (404), a saturated or unreachable database (503). :func:`install_openapi`
adds those to every operation they apply to, with the ``Problem`` schema and
``application/problem+json``, so the schema says what a client can really get (and
schemathesis holds the app to it: ``status_code_conformance``,
``content_type_conformance``, ``response_schema_conformance``).

It also adds OpenAPI *links* from the operations that create a resource to those that read,
change or delete it, so stateful testing (and readers) can follow real ids.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# Status -> (description, applies to the operation?)
COMMON = {
    401: "Not authenticated (a missing, invalid or expired bearer token)",
    403: "Signed in, but not allowed",
    404: "Not found, or not visible to you",
    413: "The request body is too large",
    422: "The request is not valid (see `errors`: `loc`, `msg`, `type`)",
    429: "Rate limited (see `Retry-After` and `RateLimit-*`)",
    503: "The server is busy or a dependency is down; retry after `Retry-After`",
}

# Created resource -> the operations its id opens (the parameter they take it as).
LINKS: dict[tuple[str, str], list[tuple[str, str, str, dict[str, str]]]] = {
    ("/api/v1/courses", "post"): [
        (name, "/api/v1/courses/{course_id}" + suffix, method, {"course_id": "$response.body#/id"})
        for name, suffix, method in (
            ("GetCourse", "", "get"),
            ("UpdateCourse", "", "patch"),
            ("DeleteCourse", "", "delete"),
            ("CreateLesson", "/lessons", "post"),
            ("ListLessons", "/lessons", "get"),
            ("Enroll", "/enrollment", "post"),
            ("ListMessages", "/messages", "get"),
            ("PostMessage", "/messages", "post"),
        )
    ],
    ("/api/v1/courses/{course_id}/lessons", "post"): [
        (
            name,
            "/api/v1/courses/{course_id}/lessons/{lesson_id}" + suffix,
            method,
            {"course_id": "$response.body#/course_id", "lesson_id": "$response.body#/id"},
        )
        for name, suffix, method in (
            ("GetLesson", "", "get"),
            ("UpdateLesson", "", "patch"),
            ("DeleteLesson", "", "delete"),
            ("CompleteLesson", "/completion", "put"),
        )
    ],
    ("/api/v1/tasks", "post"): [
        (name, "/api/v1/tasks/{task_id}" + suffix, method, {"task_id": "$response.body#/id"})
        for name, suffix, method in (
            ("GetTask", "", "get"),
            ("UpdateTask", "", "patch"),
            ("ReplaceTask", "", "put"),
            ("DeleteTask", "", "delete"),
            ("CompleteTask", "/complete", "post"),
        )
    ],
}


def _applies(status: int, path: str, op: dict[str, Any]) -> bool:
    api = path.startswith("/api/")
    has_params = bool(op.get("parameters")) or "requestBody" in op
    if status == 401 or status == 403:
        return bool(op.get("security"))
    if status == 404:
        return "{" in path or bool(op.get("security"))
    if status == 413:
        return "requestBody" in op
    if status == 422:
        return api or has_params
    if status == 429:
        return api
    return status == 503 and api


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the shared error responses and the links added (in place)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem_content = {PROBLEM: {"schema": PROBLEM_REF}}
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            responses: dict[str, Any] = {
                str(status): value for status, value in op.get("responses", {}).items()
            }
            op["responses"] = responses
            for code, description in COMMON.items():
                if str(code) not in responses and _applies(code, path, op):
                    responses[str(code)] = {"description": description}
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400:
                    response["content"] = problem_content
                    if key == "422" and response.get("description") == "Validation Error":
                        response["description"] = COMMON[422]
            for name, target, target_method, parameters in LINKS.get((path, method), []):
                if target_method not in schema["paths"].get(target, {}):
                    continue
                created = next((s for s in ("201", "200") if s in responses), None)
                if created is None:
                    continue
                links = responses[created].setdefault("links", {})
                links[name] = {
                    "operationId": schema["paths"][target][target_method]["operationId"],
                    "parameters": parameters,
                }
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the completed schema at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_schema(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

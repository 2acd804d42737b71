"""Typed API routes: one declaration validates the request, serialises the response and documents both in OpenAPI.

:func:`api_route` registers a Flask view on a blueprint and records the pydantic models of its JSON body, its query
parameters and its response; :func:`build_openapi` turns every recorded route of an app into an OpenAPI 3.1
document whose schemas are generated from those same models, so the document cannot drift from what is enforced.

Example (a resource module; the blueprint is registered in :data:`plexm8.web.api.API_BLUEPRINTS`)::

    bp = Blueprint("widgets", __name__, url_prefix="/api")

    class WidgetCreate(RequestBody):
        title: str = Field(min_length=1, max_length=200, description="Shown in the list")

    class WidgetQuery(QueryParams):
        limit: int = Field(50, ge=1, le=500)

    class Widget(ApiModel):
        id: int
        title: str

    @api_route(bp, "POST", "/widgets/<int:widget_id>", body=WidgetCreate, query=WidgetQuery, response=Widget,
               status=201, errors=(401, 404, 503), summary="Create a widget", tags=("widgets",))
    def create_widget(widget_id: int, *, body: WidgetCreate, query: WidgetQuery) -> Widget:
        return Widget(id=widget_id, title=body.title)

The view receives path parameters by name and ``body=`` / ``query=`` (only those declared) as validated model
instances, and returns an instance of ``response`` (or ``None`` when ``response`` is ``None``: an empty 204), or
that instance already serialised by :func:`render` when the view answers from a cache of its own.
Requests are refused before the view runs: a body that is not ``application/json`` → 415, larger than
:data:`MAX_BODY_BYTES` → 413, not valid JSON (NaN and Infinity included) → 400 ``bad_request``, values that do not
fit the model (wrong type, unknown field, out of range) → 422 ``validation_error`` whose message names the field.
Declare in ``errors`` the other statuses the view can answer with; 400/415/422 are added when a body or query model
is declared.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from flask import Blueprint, Flask, Response, request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as ModelValidationError
from pydantic.json_schema import models_json_schema
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from plexm8 import __version__
from plexm8.errors import BadRequest, ValidationError

__all__ = [
    "COMPONENTS_REF",
    "MAX_BODY_BYTES",
    "ApiModel",
    "ErrorDetail",
    "ErrorResponse",
    "Operation",
    "QueryParams",
    "Rendered",
    "RequestBody",
    "api_route",
    "build_openapi",
    "operations",
    "render",
]

#: Request bodies above this size are refused with 413 before they are read.
MAX_BODY_BYTES = 1 << 20
#: Where schemas live in the OpenAPI document; used as pydantic's ``ref_template``.
COMPONENTS_REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "plexToken"
ERROR_SCHEMA = "ErrorResponse"

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
View = Callable[..., "BaseModel | Rendered | None"]
V = TypeVar("V", bound=View)

_OPERATION_ATTR = "__plexm8_operation__"
_RULE_PARAM = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_PATH_PARAM_SCHEMA: dict[str, dict[str, Any]] = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"}}


class ApiModel(BaseModel):
    """Base of response models: unknown fields are a programming error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestBody(BaseModel):
    """Base of JSON request bodies: strict JSON types, unknown fields refused, NaN and infinities refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class QueryParams(BaseModel):
    """Base of query-parameter models: values arrive as text and are converted; unknown parameters are ignored.

    Unknown parameters are ignored rather than refused so that cache-busting parameters of HTTP clients pass.
    """

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class ErrorDetail(ApiModel):
    """What went wrong."""

    code: str = Field(description="Stable machine-readable code, e.g. plex_unavailable or validation_error")
    message: str = Field(description="One line for humans; never contains a token")


class ErrorResponse(ApiModel):
    """The body of every error response."""

    error: ErrorDetail


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response model serialised once (by :func:`render`), for views that answer the same thing many times."""

    model: type[BaseModel]
    body: bytes


def render(result: BaseModel) -> Rendered:
    """``result`` as the JSON body :func:`api_route` would send for it, to keep and return again."""
    return Rendered(model=type(result), body=result.model_dump_json().encode())


@dataclass(frozen=True, slots=True)
class Operation:
    """What :func:`api_route` recorded about one view."""

    method: HttpMethod
    body: type[RequestBody] | None
    query: type[QueryParams] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    summary: str
    description: str
    tags: tuple[str, ...]


def api_route(
    bp: Blueprint,
    method: HttpMethod,
    path: str,
    *,
    body: type[RequestBody] | None = None,
    query: type[QueryParams] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: Iterable[int] = (),
    summary: str,
    description: str | None = None,
    tags: Sequence[str] = (),
) -> Callable[[V], V]:
    """Register the decorated view on ``bp`` for ``method path`` with validated input and output (module docstring)."""
    if response is None and status != 204:
        raise ValueError("a route without a response model answers 204 No Content")
    declared = set(errors)
    if body is not None:
        declared |= {400, 413, 415, 422}
    if query is not None:
        declared.add(422)

    def decorate(view: V) -> V:
        operation = Operation(
            method=method,
            body=body,
            query=query,
            response=response,
            status=status,
            errors=tuple(sorted(declared)),
            summary=summary,
            description=description if description is not None else _docstring_rest(view),
            tags=tuple(tags),
        )

        @functools.wraps(view)
        def endpoint(**path_params: Any) -> Response:
            kwargs: dict[str, Any] = dict(path_params)
            if query is not None:
                kwargs["query"] = _parse_query(query)
            if body is not None:
                kwargs["body"] = _parse_body(body)
            result = view(**kwargs)
            return _respond(operation, result)

        setattr(endpoint, _OPERATION_ATTR, operation)
        bp.add_url_rule(path, endpoint=view.__name__, view_func=endpoint, methods=[method])
        return view

    return decorate


def operations(app: Flask) -> list[tuple[str, str, Operation | None]]:
    """Every ``/api`` operation of ``app`` as ``(rule, endpoint, operation)``; plain Flask views have ``None``."""
    found: list[tuple[str, str, Operation | None]] = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule == "/api" or rule.rule.startswith("/api/")):
            continue
        view = app.view_functions[rule.endpoint]
        found.append((rule.rule, rule.endpoint, getattr(view, _OPERATION_ATTR, None)))
    return sorted(found, key=lambda item: (item[0], item[1]))


# --- requests and responses --------------------------------------------------------------------------------


def _parse_body(model: type[RequestBody]) -> RequestBody:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType("send the request body as JSON with 'Content-Type: application/json'")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and bad JSON alike; the message stays generic on purpose (no echo of input).
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError(f"the request body must be a JSON object, not {_json_kind(data)}", field="body")
    try:
        # Validated from the JSON text in strict mode, so "8" is not a number and enums still take their values.
        return model.model_validate_json(raw)
    except ModelValidationError as exc:
        raise _validation_error(exc, where="body") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


_Q = TypeVar("_Q", bound="QueryParams")


def _parse_query(model: type[QueryParams]) -> QueryParams:
    try:
        return parse_query_args(model, request.args)
    except ModelValidationError as exc:
        raise _validation_error(exc, where="query") from None


def parse_query_args(model: type[_Q], args: MultiDict[str, str]) -> _Q:
    """``model`` from a request's parsed query string, as every view gets it; raises pydantic's ValidationError.

    Only the model's fields are read (others are ignored), a list field takes every value, any other the first.
    """
    data: dict[str, object] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in args:
            continue
        data[key] = args.getlist(key) if _is_list(field.annotation) else args.get(key)
    return model.model_validate(data)


def _is_list(annotation: object) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin is Union or type(annotation).__name__ == "UnionType":
        return any(_is_list(arg) for arg in get_args(annotation))
    return False


def _validation_error(exc: ModelValidationError, *, where: str) -> BadRequest:
    """The first problem of ``exc`` as a 422 naming the field (the input value is never echoed back)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return BadRequest("the request body is not valid JSON")
    location = ".".join(str(part) for part in first["loc"])
    message = "unknown field" if first["type"] == "extra_forbidden" else str(first["msg"])
    count = exc.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    if not location:
        return ValidationError(f"{where}: {message}{more}")
    return ValidationError(f"{where} field '{location}': {message}{more}", field=location)


def _respond(operation: Operation, result: BaseModel | Rendered | None) -> Response:
    if operation.response is None:
        if result is not None:
            raise TypeError(f"a {operation.status} route must return None, not {type(result).__name__}")
        return Response(status=operation.status)
    if isinstance(result, Rendered):
        if not issubclass(result.model, operation.response):
            raise TypeError(f"the view returned a rendered {result.model.__name__}, not {operation.response.__name__}")
        return Response(result.body, status=operation.status, mimetype="application/json")
    if not isinstance(result, operation.response):
        raise TypeError(f"the view returned {type(result).__name__}, not {operation.response.__name__}")
    return Response(result.model_dump_json(), status=operation.status, mimetype="application/json")


def _docstring_rest(view: Callable[..., object]) -> str:
    lines = (view.__doc__ or "").strip().splitlines()
    return " ".join(line.strip() for line in lines[1:] if line.strip())


# --- the OpenAPI document ----------------------------------------------------------------------------------


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of every ``/api`` route of ``app``, with schemas generated from their models."""
    found = operations(app)
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [(ErrorResponse, "serialization")]
    for _, _, op in found:
        if op is None:
            continue
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.query is not None:
            models.append((op.query, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=COMPONENTS_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    paths: dict[str, dict[str, Any]] = {}
    used_tags: dict[str, None] = {}
    for rule, endpoint, op in found:
        path, path_params = _openapi_path(rule)
        if op is None:
            view = app.view_functions[endpoint]
            lines = (view.__doc__ or "").strip().splitlines()
            paths.setdefault(path, {})["get"] = {
                "operationId": endpoint.replace(".", "_"),
                "summary": lines[0] if lines else endpoint,
                "tags": ["meta"],
                "parameters": path_params,
                "responses": {"200": {"description": "OK"}},
            }
            used_tags["meta"] = None
            continue
        entry: dict[str, Any] = {
            "operationId": endpoint.replace(".", "_"),
            "summary": op.summary,
            "tags": list(op.tags),
        }
        for tag in op.tags:
            used_tags[tag] = None
        if op.description:
            entry["description"] = op.description
        parameters = list(path_params)
        if op.query is not None:
            parameters.extend(_query_parameters(op.query, refs[(op.query, "validation")], schemas))
        entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        responses: dict[str, Any] = {}
        if op.response is None:
            responses[str(op.status)] = {"description": HTTPStatus(op.status).phrase}
        else:
            responses[str(op.status)] = {
                "description": HTTPStatus(op.status).phrase,
                "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
            }
        for status in op.errors:
            responses[str(status)] = {
                "description": HTTPStatus(status).phrase,
                "content": {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}},
            }
        entry["responses"] = responses
        paths.setdefault(path, {})[op.method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PlexM8 API",
            "version": __version__,
            "description": (
                "The local PlexM8 service for a Plex Media Server music library. Errors are JSON "
                '`{"error": {"code", "message"}}`. Send `Authorization: Bearer <Plex token>` to act as that Plex '
                "user; without it PlexM8 acts with its configured token."
            ),
        },
        "tags": [{"name": tag} for tag in sorted(used_tags)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A Plex token (X-Plex-Token); optional, the configured PLEX_TOKEN otherwise",
                }
            },
        },
        # Either the bearer token or nothing: both are valid ways to call every endpoint.
        "security": [{SECURITY_SCHEME: []}, {}],
    }


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A Flask rule as an OpenAPI path template with its path parameters."""
    params: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        schema = _PATH_PARAM_SCHEMA.get(match.group("converter") or "", {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
        return "{" + name + "}"

    return _RULE_PARAM.sub(replace, rule), params


def _query_parameters(model: type[QueryParams], ref: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """The query parameters of ``model`` from its component schema (so enum and other $refs stay shared)."""
    schema = schemas[ref["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        param_schema = {k: v for k, v in prop.items() if k not in ("title", "description")}
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": param_schema}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters

"""``GET /api/openapi.json`` (the OpenAPI 3.1 document) and ``GET /api/docs`` (the same document as a web page).

The page is rendered on the server from the document, with no third-party scripts or stylesheets: PlexM8 runs
offline and holds tokens, so it loads nothing from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from plexm8.web.api.spec import build_openapi

__all__ = ["bp"]

bp = Blueprint("api_docs", __name__, url_prefix="/api", template_folder="templates")

_DOC_KEY = "plexm8_openapi"


def _document() -> dict[str, Any]:
    # Routes are fixed once the app serves requests, so the document is built once per app.
    document: dict[str, Any] | None = current_app.extensions.get(_DOC_KEY)
    if document is None:
        document = build_openapi(current_app)
        current_app.extensions[_DOC_KEY] = document
    return document


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(_document())


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class _Schema:
    name: str
    description: str
    fields: list[_Field]
    type: str


@dataclass(frozen=True, slots=True)
class _Op:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    parameters: list[_Field]
    body: str | None
    responses: list[tuple[str, str, str | None]]
    tryable: bool


@dataclass(slots=True)
class _Tag:
    name: str
    operations: list[_Op] = field(default_factory=list)


def _type_of(schema: dict[str, Any]) -> str:
    """A short human rendering of a JSON Schema type; ``$ref`` targets become ``#Name`` (linked by the template)."""
    if "$ref" in schema:
        return "#" + str(schema["$ref"]).rsplit("/", 1)[-1]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(_type_of(option) for option in schema[combinator])
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    limits = [f"{label} {schema[key]}" for key, label in _LIMITS if key in schema]
    return f"{kind} ({', '.join(limits)})" if limits else str(kind)


_LIMITS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("multipleOf", "multiple of"),
)


def _schemas(document: dict[str, Any]) -> list[_Schema]:
    out = []
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", ()))
        fields = [
            _Field(prop_name, _type_of(prop), prop_name in required, str(prop.get("description", "")))
            for prop_name, prop in schema.get("properties", {}).items()
        ]
        out.append(_Schema(name, str(schema.get("description", "")), fields, _type_of(schema)))
    return out


def _tags(document: dict[str, Any]) -> list[_Tag]:
    tags: dict[str, _Tag] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            parameters = [
                _Field(
                    f"{p['name']} ({p['in']})", _type_of(p.get("schema", {})), p["required"], p.get("description", "")
                )
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for status, response in op["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                responses.append((status, response["description"], _type_of(schema) if schema else None))
            entry = _Op(
                method=method.upper(),
                path=path,
                operation_id=op["operationId"],
                summary=op.get("summary", ""),
                description=op.get("description", ""),
                parameters=parameters,
                body=_type_of(body) if body else None,
                responses=responses,
                tryable=method == "get" and "{" not in path,
            )
            for tag in op.get("tags") or ["other"]:
                tags.setdefault(tag, _Tag(tag)).operations.append(entry)
    return sorted(tags.values(), key=lambda tag: tag.name)


@bp.get("/docs")
def docs() -> str:
    """The API reference as a web page, rendered from the OpenAPI document."""
    document = _document()
    return render_template("api_docs.html", info=document["info"], tags=_tags(document), schemas=_schemas(document))

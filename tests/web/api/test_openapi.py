"""The OpenAPI 3.1 document and the docs page: complete, self-consistent, generated from the validating models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from plexm8.bootstrap import build_services
from plexm8.config import load_settings
from plexm8.web import create_app
from plexm8.web.api.spec import COMPONENTS_REF, operations


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # The document needs no Plex: a closed port is enough, and nothing is sent to it.
    environ = {"PLEX_SERVER_URL": "http://127.0.0.1:9", "PLEX_TOKEN": "tok", "INDEX_REFRESH_INTERVAL": "0"}
    data_dir = Path(tmp_path_factory.mktemp("openapi"))
    with build_services(load_settings(environ, default_data_dir=data_dir)) as services:
        yield create_app(services=services)


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data: dict[str, Any] = response.get_json()
    return data


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_top_level_structure(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["plexToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["plexToken"]["description"],
    }
    assert {"plexToken": []} in document["security"]
    for path, methods in document["paths"].items():
        assert path.startswith("/api")
        for method, op in methods.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert op["responses"], (method, path)
            for status in op["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", status)
            # Every {name} in the path is declared as a required path parameter, and nothing else is.
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path))
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))


def test_every_registered_api_route_is_documented(app: Flask, document: dict[str, Any]) -> None:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        assert path in document["paths"], rule.rule
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        for method in methods:
            assert method.lower() in document["paths"][path], (method, rule.rule)


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = [node["$ref"] for node in walk(document) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert isinstance(resolve(document, ref), dict)
    assert "$defs" not in str(document)


def test_schemas_are_the_models_schemas(app: Flask, document: dict[str, Any]) -> None:
    """Request bodies, query parameters and responses are exactly what the validating models generate."""
    checked = 0
    for rule, _endpoint, op in operations(app):
        if op is None:
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)
        entry = document["paths"][path][op.method.lower()]
        if op.body is not None:
            schema = entry["requestBody"]["content"]["application/json"]["schema"]
            expected = op.body.model_json_schema(ref_template=COMPONENTS_REF, mode="validation")
            expected.pop("$defs", None)
            assert resolve(document, schema["$ref"]) == expected
            checked += 1
        if op.response is not None:
            schema = entry["responses"][str(op.status)]["content"]["application/json"]["schema"]
            expected = op.response.model_json_schema(ref_template=COMPONENTS_REF, mode="serialization")
            expected.pop("$defs", None)
            assert resolve(document, schema["$ref"]) == expected
            checked += 1
        if op.query is not None:
            params = {p["name"]: p for p in entry["parameters"] if p["in"] == "query"}
            assert set(params) == set(op.query.model_fields)
            for name, field in op.query.model_fields.items():
                assert params[name]["required"] == field.is_required()
        for status in op.errors:
            error = entry["responses"][str(status)]["content"]["application/json"]["schema"]
            assert resolve(document, error["$ref"])["properties"].keys() == {"error"}
    assert checked >= 4


def test_resource_operations_are_present(document: dict[str, Any]) -> None:
    paths = document["paths"]
    rate = paths["/api/ratings/rate"]["post"]
    assert {"200", "401", "404", "415", "422", "503"} <= set(rate["responses"])
    body = resolve(document, rate["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["properties"]) == {"track_key", "rating", "stars"}
    assert body["additionalProperties"] is False
    tracks = {p["name"] for p in paths["/api/tracks"]["get"]["parameters"]}
    assert tracks == {"q", "artist", "album", "rated", "min_rating", "sort", "order", "limit", "offset"}
    top = {p["name"] for p in paths["/api/ratings/top-rated"]["get"]["parameters"]}
    assert top == {"limit", "min_rating"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        for name in ("src", "href"):
            link = values.get(name) or ""
            if link.startswith(("http:", "https:", "//")):
                self.external.append(link)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_docs_page_lists_every_operation(app: Flask, document: dict[str, Any]) -> None:
    response = app.test_client().get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = _Page()
    page.feed(response.get_data(as_text=True))
    text = " ".join(page.text)
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            assert f"op-{op['operationId']}" in page.ids, (method, path)
            assert path in text
    for name in document["components"]["schemas"]:
        assert f"schema-{name}" in page.ids
    assert page.external == []

"""The OpenAPI document is sound, served, and the API holds to it under fuzzing."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.app import create_app
from bot.appkeys import REDIS
from bot.settings import Settings
from bot.web.messages import DecisionOut
from bot.web.openapi import openapi_document, openapi_handler
from escalation import keys

TOKEN = "fuzz-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MIN_ECHO_CHARS = 8
FIELDS = ("message_id", "author_id", "text", "channel", "author_name", "thread_id")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
COMPONENT_KINDS = {
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
}
JSON_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

OPS_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
Client = TestClient[web.Request, web.Application]
STORED: set[str] = set()  # dedupe keys this module's requests created


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> AsyncIterator[Client]:
    data_dir: Path = tmp_path_factory.mktemp("var")
    app = create_app(
        Settings(
            _env_file=None,
            data_dir=data_dir,
            api_token=SecretStr(TOKEN),
            redis_url=SecretStr(redis_url),
        )
    )
    # Works before and after bot.app registers the route itself.
    if not any(r.resource and r.resource.canonical == "/openapi.json" for r in app.router.routes()):
        app.router.add_get("/openapi.json", openapi_handler)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
        # Leave no fuzzed dedupe record behind: a shared Redis would answer other tests with it.
        if STORED:
            await app[REDIS].delete(*STORED)


# --- the document ------------------------------------------------------------------------


def walk(node: Any) -> Iterator[Any]:
    """Every node of a JSON tree, the root included."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local refs are expected: {ref}"
    node: Any = document
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        node = resolve(document, node["$ref"])
    return node


def check_schema(schema: Any, where: str) -> None:
    assert isinstance(schema, dict | bool), where
    for node in walk(schema):
        if isinstance(node, dict) and isinstance(node.get("type"), str | list):
            types = {node["type"]} if isinstance(node["type"], str) else set(node["type"])
            assert types <= JSON_TYPES, f"{where}: bad type {node['type']}"


def test_document_is_structurally_valid_openapi_31() -> None:
    document = openapi_document()
    assert json.loads(json.dumps(document)) == document
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert isinstance(document["info"]["title"], str)
    assert isinstance(document["info"]["version"], str)
    assert set(document) <= {
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    }
    components = document["components"]
    assert set(components) <= COMPONENT_KINDS
    for kind in components.values():
        assert all(re.fullmatch(r"[a-zA-Z0-9._-]+", name) for name in kind)
    for name, schema in components["schemas"].items():
        check_schema(schema, name)
    for node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            resolve(document, node["$ref"])

    schemes = components["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    operation_ids: list[str] = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in HTTP_METHODS, f"{path}: {method}"
            operation_ids.append(operation["operationId"])
            for requirement in [*operation.get("security", []), *document.get("security", [])]:
                assert set(requirement) <= set(schemes)
            assert operation["responses"], f"{method} {path} has no responses"
            for code, declared in operation["responses"].items():
                assert code == "default" or re.fullmatch(r"[1-5](\d\d|XX)", code)
                response = deref(document, declared)
                assert isinstance(response["description"], str)
                for media in response.get("content", {}).values():
                    check_schema(deref(document, media["schema"]), f"{method} {path} {code}")
    assert len(operation_ids) == len(set(operation_ids))


def test_document_describes_the_api() -> None:
    document = openapi_document()
    paths = document["paths"]
    assert {"/v1/messages", "/healthz", "/readyz", "/metrics"} <= set(paths)
    assert {m for p in ("/healthz", "/readyz", "/metrics") for m in paths[p]} == {"get"}
    post = paths["/v1/messages"]["post"]
    assert post["security"] == [{"apiToken": []}]
    body = deref(document, post["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["message_id", "author_id", "text"]
    assert body["additionalProperties"] is False
    ok = deref(document, post["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"id", "action", "duplicate", "entities"} <= set(ok["properties"])
    for code in ("400", "401", "403", "413", "415", "422"):
        error = deref(document, post["responses"][code])["content"]["application/json"]
        assert error["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]


def test_every_v1_route_of_the_app_is_described() -> None:
    # Routes are registered when the app is built; nothing is opened until it starts.
    app = create_app(Settings(_env_file=None))
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    # One route serves both platforms' deliveries: /webhooks/{platform:meta|x}.
    routes.remove(("post", "/webhooks/{platform}"))
    routes |= {("post", "/webhooks/meta"), ("post", "/webhooks/x")}
    v1 = {(method, path) for method, path in routes if path.startswith("/v1/")}
    # The JSON routes outside /v1 (the console and the private page itself are HTML).
    json_elsewhere = {
        ("get", "/webhooks/x"),
        ("post", "/webhooks/meta"),
        ("post", "/webhooks/x"),
        ("get", "/p/{token}/messages"),
        ("post", "/p/{token}/messages"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/openapi.json"),
    }
    paths = openapi_document()["paths"]
    described = {(method, path) for path, item in paths.items() for method in item}
    assert len(v1) >= 20
    assert v1 | json_elsewhere <= routes
    assert (v1 | json_elsewhere) - described == set(), "JSON routes without a description"
    assert described <= routes, "described routes the app does not have"


def test_every_operation_declares_its_errors_and_security() -> None:
    document = openapi_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "default" in responses or path in OPS_PATHS, (method, path)
            if path in OPS_PATHS:
                continue
            errors = {code for code in responses if code[0] == "4"}
            if operation["security"]:
                assert {"401", "403"} <= errors, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= errors, (method, path)
                # A webhook is read item by item: a bad item is skipped, never a 422.
                assert ("422" in errors) != path.startswith("/webhooks/"), (method, path)
            for code in errors:
                error = deref(document, responses[code])["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/Error"}
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in ("path", "query"), (method, path)


async def test_openapi_json_is_served(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == openapi_document()


# --- fuzzing POST /v1/messages against the document ----------------------------------------

DOCUMENTED = {
    int(code)
    for code in openapi_document()["paths"]["/v1/messages"]["post"]["responses"]
    if code.isdigit()
}


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    for node in walk(value):
        if isinstance(node, dict):
            yield from (k for k in node if isinstance(k, str))
            yield from (v for v in node.values() if isinstance(v, str))
        elif isinstance(node, list):
            yield from (v for v in node if isinstance(v, str))
    if isinstance(value, str):
        yield value


async def exchange(
    client: Client,
    raw: bytes,
    content_type: str | None,
    headers: dict[str, str],
    sent: list[str],
    value: Any = None,
) -> int:
    """POST raw bytes; check the answer against the document and for echoes of `sent`."""
    all_headers = dict(headers)
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    async with client.post(
        "/v1/messages",
        data=io.BytesIO(raw),  # bytes over 1 MB warn about blocking the loop
        headers=all_headers,
        skip_auto_headers=["Content-Type"] if content_type is None else (),
    ) as response:
        status = response.status
        text = (await response.read()).decode("utf-8", "replace")
        media = response.content_type
    assert status < 500, (status, text)
    assert status in DOCUMENTED, (status, text)
    assert media == "application/json", (status, media)
    decoded = json.loads(text)  # every answer is JSON, whatever came in
    if status == 200:
        DecisionOut.model_validate(decoded)
        # A Decision carries the message_id as its id by contract; nothing else comes back.
        assert isinstance(value, dict), text
        assert decoded["id"] == value["message_id"]
        if not decoded["duplicate"]:
            STORED.add(keys.message_decision(value.get("channel", "api"), value["message_id"]))
        decoded = {k: v for k, v in decoded.items() if k != "id"}
        text = json.dumps(decoded, ensure_ascii=False)
    else:
        assert isinstance(decoded, dict), text
        assert isinstance(decoded.get("error"), str), text
    visible = [text, *strings_in(decoded)]
    for piece in sent:
        # Errors may name the API's own fields.
        if len(piece) < MIN_ECHO_CHARS or piece in FIELDS:
            continue
        assert not any(piece in shown for shown in visible), f"{status} echoes {piece[:80]!r}"
    return status


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=16), children, max_size=4)
    ),
    max_leaves=12,
)
odd_strings = st.lists(
    st.sampled_from(
        ["\x00", "\x01", "\u200b", "\ufeff", "\u202e", "é", "漢", "😀", "\\", '"', "a"]
    ),
    max_size=40,
).map("".join)
unicode_strings = st.text(alphabet=st.characters(codec="utf-8"), max_size=80) | odd_strings


def repeat_to(chunk: str, size: int) -> str:
    return (chunk * (size // len(chunk) + 1))[:size]


huge_strings = st.builds(
    repeat_to,
    st.text(min_size=1, max_size=12),
    st.sampled_from([199, 200, 201, 20_000, 20_001, 262_144, 300_000]) | st.integers(8, 300_000),
)
message_ids = st.from_regex(r"[A-Za-z0-9_.:@-]{1,40}", fullmatch=True) | st.from_regex(
    r"[\w.:@-]{1,40}", fullmatch=True
)
texts = st.text(max_size=300) | st.sampled_from(
    ["where do I park?", "my ssn is 123-45-6789", "Harold Finch needs parking, MRN 0012345"]
)


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": draw(message_ids),
        "author_id": draw(st.text(min_size=1, max_size=60)),
        "text": draw(texts),
    }
    if draw(st.booleans()):
        body["channel"] = draw(st.from_regex(r"[a-z0-9_-]{1,40}", fullmatch=True))
    for optional in ("author_name", "thread_id"):
        if draw(st.booleans()):
            body[optional] = draw(st.none() | st.text(max_size=60))
    return body


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(valid_messages())
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["wrong_type", "huge", "unicode", "drop", "extra"]))
        field = draw(st.sampled_from(FIELDS))
        if op == "wrong_type":
            body[field] = draw(json_values.filter(lambda v: not isinstance(v, str)))
        elif op == "huge":
            body[field] = draw(huge_strings)
        elif op == "unicode":
            body[field] = draw(unicode_strings)
        elif op == "drop":
            body.pop(field, None)
        else:
            body[draw(st.text(min_size=1, max_size=30))] = draw(json_values)
    return body


def encode(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode()


def escaped_text_body(escapes: list[str]) -> bytes:
    """A MessageIn whose text is written with raw JSON escapes (lone surrogates included)."""
    return b'{"message_id": "a", "author_id": "u", "text": "' + "".join(escapes).encode() + b'"}'


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/octet-stream",
            "application/merge-patch+json",
            "application/json;;;",
            "*/*",
            "",
        ]
    )
    | st.from_regex(
        r"[a-z]{1,10}/[a-z0-9.+-]{1,15}(; ?[a-z]{1,8}=[a-z0-9-]{1,10})?", fullmatch=True
    )
    | header_text
    | st.none()
)
auth_headers = st.sampled_from(
    [
        AUTH,
        {},
        {"Authorization": TOKEN},
        {"Authorization": f"bearer {TOKEN}"},
        {"Authorization": f"Bearer  {TOKEN} "},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer "},
    ]
) | header_text.map(lambda t: {"Authorization": t})
raw_bodies = (
    st.binary(max_size=4096)
    | st.builds(
        bytes.__add__,
        st.sampled_from([b'{"message_id": "', b'{"text": "', b"[", b"{", b'"']),
        st.binary(max_size=512),
    )
    | st.lists(
        st.sampled_from(
            [r"\ud800", r"\udfff", r"\u0000", r"\\", r"\"", "abcdefgh", r"\ud83d\ude00"]
        ),
        max_size=12,
    ).map(escaped_text_body)
)


def raw_pieces(raw: bytes) -> list[str]:
    decoded = raw.decode("utf-8", "replace")
    return [decoded, *re.split(r"[\ufffd\x00-\x1f\"\\]+", decoded)]


def parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@settings(FUZZ, max_examples=300)
@given(value=json_values, ascii_only=st.booleans())
async def test_fuzz_random_json_values(client: Client, value: Any, ascii_only: bool) -> None:
    raw = encode(value, ascii_only)
    await exchange(client, raw, "application/json", AUTH, [*strings_in(value)], value)


@settings(FUZZ, max_examples=600)
@given(body=mutated_messages(), ascii_only=st.booleans())
async def test_fuzz_mutated_messages(
    client: Client, body: dict[str, Any], ascii_only: bool
) -> None:
    raw = encode(body, ascii_only)
    await exchange(client, raw, "application/json", AUTH, [*strings_in(body)], body)


@settings(FUZZ, max_examples=300)
@given(
    raw=raw_bodies,
    content_type=st.just("application/json") | content_types,
    headers=st.just(AUTH) | auth_headers,
)
async def test_fuzz_raw_bytes(
    client: Client, raw: bytes, content_type: str | None, headers: dict[str, str]
) -> None:
    await exchange(client, raw, content_type, headers, raw_pieces(raw), parsed(raw))


@settings(FUZZ, max_examples=300)
@given(body=mutated_messages(), content_type=content_types, headers=auth_headers)
async def test_fuzz_content_types_and_tokens(
    client: Client, body: dict[str, Any], content_type: str | None, headers: dict[str, str]
) -> None:
    sent = [*strings_in(body), *headers.values()]
    await exchange(client, encode(body, True), content_type, headers, sent, body)


@pytest.mark.parametrize(
    "name", ["Harold Finch 123-45-6789", 'x", "admin": "yes', "\x1f"], ids=["phi", "quote", "ctl"]
)
async def test_unknown_field_names_are_never_echoed(client: Client, name: str) -> None:
    body = {"message_id": "k1", "author_id": "u1", "text": "hi", name: 1}
    response = await client.post("/v1/messages", json=body, headers=AUTH)
    text = await response.text()
    assert response.status == 422
    assert name not in text
    assert set(json.loads(text)) == {"error"}

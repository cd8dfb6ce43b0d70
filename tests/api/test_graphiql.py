"""The GraphiQL page: bundled assets only, a strict CSP, and a safely filled template."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

import api.graphiql
from api.graphiql import STATIC_DIR, graphiql_routes

BASE_URL = "http://testserver"
PAGE_URL = f"{BASE_URL}/graphiql"
HOSTILE = '</script><script>alert(1)</script><!-- </SCRIPT > & "quotes" \u2028 é'


class PageParser(HTMLParser):
    """Collects asset URLs, script elements and the text of the JSON config element."""

    def __init__(self) -> None:
        super().__init__()
        self.script_srcs: list[str] = []
        self.stylesheet_hrefs: list[str] = []
        self.other_urls: list[str] = []
        self.script_count = 0
        self.config_texts: list[str] = []
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.script_count += 1
            if attributes.get("src"):
                self.script_srcs.append(attributes["src"] or "")
            self._in_config = attributes.get("id") == "graphiql-config"
            if self._in_config:
                assert attributes.get("type") == "application/json"
                self.config_texts.append("")
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheet_hrefs.append(attributes.get("href") or "")
        else:
            self.other_urls.extend(v or "" for k, v in attrs if k in ("src", "href", "action"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_texts[-1] += data


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def make_client(endpoint: str = "/graphql", default_query: str = "") -> httpx.AsyncClient:
    app = Starlette(routes=graphiql_routes(endpoint=endpoint, default_query=default_query))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(default_query="{ __typename }") as c:
        yield c


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


async def test_page_is_served_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphiql")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no other host
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["font-src"] == ["'self'", "data:"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "GraphiQL" in response.text


async def test_page_loads_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    html = (await client.get("/graphiql")).text
    page = parse(html)

    assert "http://" not in html
    assert "https://" not in html
    urls = page.script_srcs + page.stylesheet_hrefs + page.other_urls
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.netloc, url
        assert parts.scheme in ("", "data"), url


async def test_every_referenced_asset_exists_and_is_served(client: httpx.AsyncClient) -> None:
    page = parse((await client.get("/graphiql")).text)
    expected_types = {".js": "text/javascript", ".css": "text/css"}

    assets = page.script_srcs + page.stylesheet_hrefs
    names = [Path(urlsplit(urljoin(PAGE_URL, url)).path).name for url in assets]
    assert {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
        "init.js",
    } <= set(names)
    # React before ReactDOM before GraphiQL before the code that uses their globals.
    assert [Path(src).name for src in page.script_srcs] == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "init.js",
    ]
    for url in assets:
        absolute = urljoin(PAGE_URL, url)
        path = urlsplit(absolute).path
        assert path.startswith("/graphiql/static/"), url
        local = STATIC_DIR / path.removeprefix("/graphiql/static/")
        assert local.is_file(), local

        response = await client.get(absolute)

        assert response.status_code == 200, url
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type == expected_types[local.suffix], url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content == local.read_bytes()


async def test_only_js_and_css_are_served_from_the_static_mount(client: httpx.AsyncClient) -> None:
    for path in (
        "index.html",
        "VERSIONS.md",
        "LICENSE.react",
        "missing.js",
        "../graphiql.py",
        "%2e%2e/graphiql.py",
        "",
    ):
        response = await client.get(f"/graphiql/static/{path}")
        assert response.status_code == 404, path


async def test_default_config_is_filled_in(client: httpx.AsyncClient) -> None:
    html = (await client.get("/graphiql")).text
    page = parse(html)

    assert api.graphiql.CONFIG_PLACEHOLDER not in html
    assert len(page.config_texts) == 1
    assert json.loads(page.config_texts[0]) == {"endpoint": "/graphql", "defaultQuery": "{ __typename }"}


@pytest.mark.parametrize(
    ("endpoint", "default_query"),
    [
        ("/graphql", HOSTILE),
        ("/graph</script><script>alert(1)</script>ql", "{ __typename }"),
        ("/graphql?<!--x=1&y=2", "# <!-- <script>\nquery { __typename }"),
    ],
)
async def test_config_cannot_break_out_of_its_script_element(endpoint: str, default_query: str) -> None:
    async with make_client(endpoint=endpoint, default_query=default_query) as c:
        html = (await c.get("/graphiql")).text
    page = parse(html)

    # Exactly the template's script elements: nothing was injected, nothing was cut short.
    assert page.script_count == 5
    assert len(page.config_texts) == 1
    text = page.config_texts[0]
    assert not re.search(r"[<>&]", text)
    assert json.loads(text) == {"endpoint": endpoint, "defaultQuery": default_query}


async def test_absolute_endpoint_origin_is_allowed_to_connect() -> None:
    async with make_client(endpoint="https://api.example.test:8443/graphql") as c:
        response = await c.get("/graphiql")
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["connect-src"] == ["'self'", "https://api.example.test:8443"]


@pytest.mark.parametrize("endpoint", ["javascript:alert(1)", "ftp://host/graphql", "http://a b;c/graphql"])
def test_rejects_endpoints_that_are_not_paths_or_http_urls(endpoint: str) -> None:
    with pytest.raises(ValueError, match="GraphiQL endpoint"):
        graphiql_routes(endpoint=endpoint)


async def test_template_is_read_once_when_routes_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    async with make_client(default_query="{ once }") as c:
        monkeypatch.setattr(api.graphiql, "TEMPLATE_PATH", STATIC_DIR / "does-not-exist.html")
        first = await c.get("/graphiql")
        second = await c.get("/graphiql")
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    assert "{ once }" in first.text


def test_versions_file_matches_the_bundled_files() -> None:
    versions = (STATIC_DIR / "VERSIONS.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\S+) \| (\S+) \| `[^`]+` \| `([^`]+)` \| `([0-9a-f]{64})` \|$", versions, re.M)
    listed = {name: digest for _package, _version, name, digest in rows}

    assert set(listed) == {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
    }
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == digest, name
    for name in ("react.production.min.js", "react-dom.production.min.js"):
        assert (STATIC_DIR / name).read_text(encoding="utf-8").startswith("/**\n * @license React")
    assert (STATIC_DIR / "LICENSE.graphiql").is_file()
    assert (STATIC_DIR / "LICENSE.react").is_file()

"""Security headers on every response (pages, API, errors, refusals); no inline script in any template."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "templates"


@pytest.fixture
def client(engine_db):
    with TestClient(create_app(engine_db), raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


def _secured(response, https: bool = False) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, response.request.url
    assert re.search(r"script-src 'self'(;|$)", policy)  # the docs too: their assets are vendored
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert ("strict-transport-security" in response.headers) is https


@pytest.mark.parametrize("method, path", [
    ("GET", "/login"), ("GET", "/"), ("GET", "/healthz"), ("GET", "/api/v1/me"), ("GET", "/nowhere"),
    ("GET", "/api/v1/targets/abc"), ("GET", "/static/kaoping.css"), ("GET", "/docs"), ("GET", "/openapi.json"),
])
def test_every_kind_of_response_carries_the_headers(client, method, path):
    _secured(client.request(method, path))


def test_a_refused_body_carries_them_too(client):
    response = client.post("/api/v1/auth/token", content=b"x" * 2_000_000, headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    _secured(response)


def test_hsts_only_over_https(engine_db):
    with TestClient(create_app(engine_db), base_url="https://kaoping.test", follow_redirects=False) as secure:
        _secured(secure.get("/login"), https=True)


def test_no_template_has_inline_script_or_event_handlers():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), template.name
        assert "javascript:" not in text.lower(), template.name

"""/docs (Swagger UI) and /redoc over the vendored assets in api/static/vendor: they work offline."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                        '<meta name="viewport" content="width=device-width, initial-scale=1">'
                        f'<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"><title>考评 API · {title}</title>'
                        f'{head}</head><body>{body}</body></html>')


@router.get("/docs", response_class=HTMLResponse)
def swagger() -> HTMLResponse:
    return _page("Swagger UI", '<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">',
                 '<div id="swagger-ui"></div><script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>'
                 '<script src="/static/docs.js"></script>')


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return _page("ReDoc", "", '<redoc spec-url="/openapi.json"></redoc>'
                 '<script src="/static/vendor/redoc/redoc.standalone.js"></script>')

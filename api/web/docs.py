"""/docs (Swagger UI) and /redoc over the vendored assets in api/static/vendor: they work offline."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
_HEAD = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
         '<meta name="viewport" content="width=device-width, initial-scale=1">'
         '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">')


@router.get("/docs", response_class=HTMLResponse)
def swagger() -> HTMLResponse:
    return HTMLResponse(f'{_HEAD}<title>考评 API · Swagger UI</title>'
                        '<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css"></head>'
                        '<body><div id="swagger-ui"></div>'
                        '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>'
                        '<script src="/static/docs.js"></script></body></html>')


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return HTMLResponse(f'{_HEAD}<title>考评 API · ReDoc</title></head>'
                        '<body><redoc spec-url="/openapi.json"></redoc>'
                        '<script src="/static/vendor/redoc/redoc.standalone.js"></script></body></html>')

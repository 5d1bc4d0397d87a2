"""The interactive API docs at ``/docs``: Swagger UI served from this process (no CDN), so the page works
offline and under the strict Content-Security-Policy (no inline script: the page loads ``docs.js``)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)
ASSET_PACKAGE = "fastapi_offline"
"""The package that ships Swagger UI's built assets (``static/swagger-ui-bundle.js`` and its CSS)."""
OWN = Path(__file__).parent / "docs_static"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (page, start script and Swagger UI assets) for ``app``'s OpenAPI document; without the
    asset package installed there are no docs (the OpenAPI document is still served)."""
    found = importlib.util.find_spec(ASSET_PACKAGE)
    if found is None or found.origin is None:
        log.warning("no API docs at /docs: the %s package is not installed (pip install -e .)", ASSET_PACKAGE)
        return
    assets = Path(found.origin).parent / "static"
    page = PAGE.format(title=app.title, openapi_url=app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/docs.js", include_in_schema=False)
    def docs_script() -> FileResponse:
        return FileResponse(OWN / "docs.js", media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

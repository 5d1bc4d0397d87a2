"""Errors on portal pages: the API's one mapping decides the status code; the portal renders it as a
page (or sends the browser to the login page when the session has ended)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from controlplane.errors import ControlPlaneError, Unauthenticated
from controlplane.portal.web import is_htmx, render


def install_error_pages(app: FastAPI) -> None:
    """Wrap the app's handler of our exceptions: portal requests get HTML, API requests are unchanged."""
    api_handler = app.exception_handlers[ControlPlaneError]

    async def handle(request: Request, exc: Exception) -> Response:
        response = await api_handler(request, exc)
        if not getattr(request.state, "portal", False):
            return response
        assert isinstance(exc, ControlPlaneError)
        if isinstance(exc, Unauthenticated):
            target = "/login?next=" + quote(request.url.path if request.method == "GET" else "/")
            if is_htmx(request):
                return Response(status_code=204, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        return render(request, "error.html", response.status_code, message=exc.message,
                      status=response.status_code)

    app.add_exception_handler(ControlPlaneError, handle)

"""Errors on portal pages: the API's one mapping decides the status code; the portal renders it as a
page (or sends the browser to the login page when the session has ended)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
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

    async def handle_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRejected)
        status = (await api_handler(request, exc.error)).status_code
        return render(request, exc.template, status, error=exc.error.message, error_field=exc.error.field or "",
                      **exc.context())

    app.add_exception_handler(ControlPlaneError, handle)
    app.add_exception_handler(FormRejected, handle_form)


class FormRejected(Exception):
    """A form the services refused: shown again with its values and the reason, at the API's status code."""

    def __init__(self, error: ControlPlaneError, template: str, context: Callable[[], dict[str, Any]]) -> None:
        super().__init__(error.message)
        self.error, self.template, self.context = error, template, context


@contextmanager
def form_errors(template: str, context: Callable[[], dict[str, Any]]) -> Iterator[None]:
    """Turn a refusal inside the block into the form again (an ended session still goes to the login)."""
    try:
        yield
    except Unauthenticated:
        raise
    except ControlPlaneError as exc:
        raise FormRejected(exc, template, context) from exc

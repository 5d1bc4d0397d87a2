"""Login, logout, and the forgotten-password pages (request a reset mail; set a new password at ``/reset``,
where the link in that mail points)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controlplane.errors import InvalidInput, RateLimited, Unauthenticated
from controlplane.models.identity import ResetConfirm
from controlplane.portal import forms
from controlplane.portal.session import (
    SESSION_COOKIE,
    PostDep,
    anonymous_csrf,
    check_anonymous_csrf,
    clear_session_cookie,
    meta,
    runtime,
    set_anonymous_cookie,
    set_session_cookie,
)
from controlplane.portal.web import render, safe_next
from controlplane.services import portal_sessions, resets
from controlplane.services.dberrors import translated
from controlplane.services.portal_sessions import SessionPolicy

router = APIRouter()
AnonCsrf = Annotated[str, Depends(anonymous_csrf)]
Checked = Depends(check_anonymous_csrf)
RESET_PAGE = resets.RESET_LINK_PATH  # the link in the reset mail opens this page
RESET_SENT = "If the account exists, a reset link is on its way to its email address."


def _anon_page(request: Request, token: str, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    response = render(request, name, status_code, **context)
    set_anonymous_cookie(request, response, token)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, token: AnonCsrf, next: str = "/") -> HTMLResponse:
    """The login page."""
    return _anon_page(request, token, "login.html", next=safe_next(next), error="", email="")


@router.post("/login", dependencies=[Checked], response_model=None)
def login(request: Request, token: AnonCsrf, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    """Check email and password (the API's throttling and audit) and open a session."""
    rt = runtime(request)
    try:
        with translated():
            session_token = portal_sessions.open_session(
                rt.deps.app_engine, rt.issuer, rt.limiter, rt.policy, meta(request), email, password,
                SessionPolicy())
    except (Unauthenticated, RateLimited) as exc:
        code = 429 if isinstance(exc, RateLimited) else 401
        return _anon_page(request, token, "login.html", code, next=safe_next(next), error=exc.message, email=email)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, session_token)
    return response


@router.post("/logout")
def logout(request: Request, page: PostDep) -> RedirectResponse:
    """End the session server-side and drop the cookie."""
    portal_sessions.close_session(runtime(request).deps.app_engine, page.caller, page.token)
    response = RedirectResponse("/login?flash=" + quote("You are logged out."), status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/forgot", response_class=HTMLResponse)
def forgot_form(request: Request, token: AnonCsrf) -> HTMLResponse:
    """Ask for a password reset mail."""
    return _anon_page(request, token, "forgot.html", error="", sent="")


@router.post("/forgot", dependencies=[Checked], response_class=HTMLResponse)
def forgot(request: Request, token: AnonCsrf, email: Annotated[str, Form()] = "") -> HTMLResponse:
    """Send the reset mail when the account exists (the page says the same either way)."""
    rt = runtime(request)
    try:
        with translated():
            resets.request_reset(rt.deps.app_engine, rt.mailer, rt.limiter, rt.policy, meta(request), email,
                                 rt.deps.settings.public_url)
    except RateLimited as exc:
        return _anon_page(request, token, "forgot.html", 429, error=exc.message, sent="")
    return _anon_page(request, token, "forgot.html", error="", sent=RESET_SENT)


@router.get(RESET_PAGE, response_class=HTMLResponse)
def reset_form(request: Request, token: AnonCsrf) -> HTMLResponse:
    """Choose a new password (the token comes from the mail's link)."""
    given = request.query_params.get("token", "")
    return _anon_page(request, token, "reset.html", reset_token=given, error="", done=False)


@router.post(RESET_PAGE, dependencies=[Checked], response_class=HTMLResponse)
def reset(request: Request, token: AnonCsrf, reset_token: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
          revoke_api_keys: Annotated[str, Form()] = "") -> HTMLResponse:
    """Set the new password with the mailed token; every session of the account ends."""
    try:
        if password != confirm:
            raise InvalidInput("the two passwords differ", field="confirm")
        body = forms.parse(ResetConfirm, {"token": reset_token, "password": password,
                                          "revoke_api_keys": bool(revoke_api_keys)})
        with translated():
            resets.confirm_reset(runtime(request).deps.app_engine, meta(request), body.token, body.password,
                                 revoke_api_keys=body.revoke_api_keys)
    except (InvalidInput, Unauthenticated) as exc:
        return _anon_page(request, token, "reset.html", 400 if isinstance(exc, InvalidInput) else 401,
                          reset_token=reset_token, error=exc.message, done=False)
    response = _anon_page(request, token, "reset.html", reset_token="", error="", done=True)
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(request, response)
    return response

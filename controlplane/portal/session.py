"""The portal's browser session: the cookie (HttpOnly, SameSite=Lax, Secure over HTTPS), the caller it
stands for, and the anti-forgery check every POST passes before anything changes.

Forms shown before login (login, forgot password, reset) carry a double-submit token instead: a random
value in a cookie that must come back in the form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from controlplane.errors import PermissionDenied, Unauthenticated
from controlplane.services import portal_sessions
from controlplane.services.caller import Caller, request_caller
from controlplane.services.portal_sessions import SessionPolicy
from controlplane.services.transactions import Db

SESSION_COOKIE = "cp_session"
ANON_COOKIE = "cp_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
POLICY = SessionPolicy()
FORGED = "missing or wrong CSRF token: reload the page and try again"


@dataclass
class Page:
    """The logged-in caller of one page request, its transactions and its anti-forgery token."""

    caller: Caller
    db: Db
    token: str
    csrf: str


def runtime(request: Request):  # type: ignore[no-untyped-def]
    """The app's runtime (engines, token issuer, limiter, mailer), shared with the API."""
    return request.app.state.runtime


def meta(request: Request) -> Caller:
    """An unauthenticated caller carrying this request's IP, user agent and request id."""
    peer = request.client.host if request.client else ""
    trusted = tuple(runtime(request).deps.settings.trusted_proxy_list)
    return request_caller(peer, request.headers, getattr(request.state, "request_id", ""), trusted)


def mark_portal(request: Request) -> None:
    """Tag the request as a portal page, so errors render as HTML (or a redirect to the login page)."""
    request.state.portal = True


def current_page(request: Request) -> Page:
    """The logged-in caller; Unauthenticated (→ login page) without a live session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise Unauthenticated("please log in")
    rt = runtime(request)
    caller = portal_sessions.resume(rt.deps.app_engine, meta(request), token, POLICY)
    page = Page(caller=caller, db=Db(rt.deps.app_engine, caller), token=token,
                csrf=portal_sessions.csrf_token(rt.issuer.key, token))
    request.state.page = page
    return page


async def _given_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER, "")
    if header:
        return header
    form = await request.form()
    value = form.get(CSRF_FIELD, "")
    return value if isinstance(value, str) else ""


async def checked_page(request: Request, page: Annotated[Page, Depends(current_page)]) -> Page:
    """The logged-in caller of a POST whose anti-forgery token matches its session (403 otherwise)."""
    if not portal_sessions.csrf_matches(runtime(request).issuer.key, page.token, await _given_token(request)):
        raise PermissionDenied(FORGED)
    return page


def anonymous_csrf(request: Request) -> str:
    """The double-submit token of a pre-login form (reused from the cookie, or new)."""
    token = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
    request.state.anon_csrf = token
    return token


async def check_anonymous_csrf(request: Request) -> None:
    """Refuse a pre-login POST whose form token does not match its cookie."""
    cookie = request.cookies.get(ANON_COOKIE, "")
    given = await _given_token(request)
    if not cookie or not secrets.compare_digest(cookie, given):
        raise PermissionDenied(FORGED)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_anonymous_cookie(request: Request, response: Response, token: str) -> None:
    """Keep the pre-login anti-forgery token in its cookie."""
    response.set_cookie(ANON_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Hand the session to the browser (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    response.set_cookie(SESSION_COOKIE, token, max_age=int(POLICY.max_age.total_seconds()), httponly=True,
                        samesite="lax", secure=_secure(request), path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))


PageDep = Annotated[Page, Depends(current_page)]
PostDep = Annotated[Page, Depends(checked_page)]

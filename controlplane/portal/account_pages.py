"""The caller's account: change the password (every session ends, this one too) and their API keys
(a new key's secret is shown once; revoke)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controlplane.errors import InvalidInput
from controlplane.models.identity import ApiKeyCreate, UserUpdate
from controlplane.portal import forms
from controlplane.portal.errors import form_errors
from controlplane.portal.guest_view import parse_id
from controlplane.portal.session import Page, PageDep, PostDep, clear_session_cookie
from controlplane.portal.web import render
from controlplane.services import api_keys, users

router = APIRouter()


def _context(page: Page) -> dict[str, Any]:
    keys = page.db.read(lambda s: api_keys.own_keys(s, page.caller))
    return {"keys": keys, "new_key": "", "new_key_name": ""}


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, page: PageDep) -> HTMLResponse:
    """The account page."""
    return render(request, "account.html", error="", error_field="", **_context(page))


@router.post("/account/password", response_model=None)
def change_password(request: Request, page: PostDep, form: forms.FormDep) -> Response:
    """Set a new password; every login of the account ends, so the browser logs in again."""
    with form_errors("account.html", lambda: _context(page)):
        if form.get("password", "") != form.get("confirm", ""):
            raise InvalidInput("the two passwords differ", field="confirm")
        body = forms.parse(UserUpdate, {"password": form.get("password", "")})
        assert page.caller.user_id is not None
        page.db.write("user.update", lambda s: users.update(s, page.caller, page.caller.user_id, body),
                      target_kind="User", target=page.caller.user_id)
    response = RedirectResponse("/login?flash=Your+password+is+changed.+Log+in+again.", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.post("/account/keys", response_class=HTMLResponse)
def create_key(request: Request, page: PostDep, form: forms.FormDep) -> HTMLResponse:
    """A new API key; its secret is on this page once and never again."""
    with form_errors("account.html", lambda: _context(page)):
        scopes = ["read", "write"] if form.get("scope") != "read" else ["read"]
        body = forms.parse(ApiKeyCreate, {"name": form.get("name", ""), "scopes": scopes})
        _row, secret = page.db.write("api_key.create", lambda s: api_keys.create(s, page.caller, body),
                                     target_kind="ApiKey")
    context = {**_context(page), "new_key": secret, "new_key_name": body.name}
    response = render(request, "account.html", error="", error_field="", **context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/keys/{key_id}/revoke")
def revoke_key(page: PostDep, key_id: str) -> RedirectResponse:
    """Revoke one of the caller's keys."""
    ident = parse_id(key_id, "API key")
    page.db.write("api_key.revoke", lambda s: api_keys.revoke(s, page.caller, ident), target_kind="ApiKey",
                  target=ident)
    return RedirectResponse("/account?flash=Key+revoked", status_code=303)

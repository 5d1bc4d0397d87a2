"""``/access``: ticket login (the only call that needs no credentials)."""

from __future__ import annotations

from typing import Any

from . import Ctx, route


@route("POST", "/access/ticket")
def create_ticket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Log in with username/password (or renew with a ticket as password) and return a ticket."""
    return ctx.rt.auth.login(str(p["username"]), str(p["password"]), p.get("realm"))


@route("GET", "/access/ticket")
def ticket_index(ctx: Ctx, p: dict[str, Any]) -> None:
    """Dummy GET that PVE serves for the login form."""
    return None

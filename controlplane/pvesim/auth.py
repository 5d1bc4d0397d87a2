"""Authentication and the simple privilege model: API tokens, tickets with CSRF tokens, read-only principals.

Credentials are configured at start; ``root@pam`` always exists (password and ``root@pam!ci`` token are
generated when not given). Tickets look like PVE's (``PVE:user@realm:HEXTIME::signature``) and are signed
with a per-simulator HMAC key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import SimConfig, TokenSpec, UserSpec
from .errors import AuthError, PermissionDenied

TICKET_LIFETIME = 7200


@dataclass(frozen=True)
class Principal:
    """Who is calling: user id, token id (None for tickets) and whether writes are allowed."""

    userid: str
    tokenid: str | None
    readonly: bool
    via: str

    @property
    def is_root(self) -> bool:
        """True for ``root@pam`` itself or one of its tokens (admin endpoints require it)."""
        return self.userid == "root@pam"


class Authenticator:
    """Holds users and tokens and turns request headers into a :class:`Principal`."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.key = secrets.token_bytes(32)
        self.root_password = config.password or secrets.token_urlsafe(12)
        root_token = TokenSpec.parse(config.token) if config.token else TokenSpec("root@pam!ci", str(uuid.uuid4()))
        self.users: dict[str, UserSpec] = {"root@pam": UserSpec("root@pam", self.root_password)}
        for user in config.users:
            self.users[user.userid] = user
        self.tokens: dict[str, TokenSpec] = {root_token.tokenid: root_token}
        for token in config.tokens:
            self.tokens[token.tokenid] = token
        self.root_token = root_token

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self.key, text.encode(), hashlib.sha256).digest()).decode()

    def _readonly(self, userid: str) -> bool:
        user = self.users.get(userid)
        return bool(user and user.readonly)

    def login(self, username: str, password: str, realm: str | None = None) -> dict[str, Any]:
        """``POST /access/ticket``: check the password (or a valid ticket) and issue a new ticket."""
        if realm and "@" not in username:
            username = f"{username}@{realm}"
        user = self.users.get(username)
        ok = bool(user and hmac.compare_digest(user.password, password))
        if not ok and password.startswith("PVE:"):
            ok = self.verify_ticket(password) == username
        if not ok or user is None:
            raise AuthError("authentication failure")
        stamp = f"{int(self.clock()):08X}"
        plain = f"PVE:{username}:{stamp}"
        ticket = f"{plain}::{self._sign(plain)}"
        csrf = f"{stamp}:{self._sign('csrf:' + username + ':' + stamp)}"
        write = 0 if user.readonly else 1
        return {
            "username": username,
            "ticket": ticket,
            "CSRFPreventionToken": csrf,
            "clustername": "pvesim",
            "cap": {
                "vms": {
                    "VM.Audit": 1,
                    "VM.PowerMgmt": write,
                    "VM.Config.Options": write,
                    "VM.Allocate": write,
                },
                "nodes": {"Sys.Audit": 1, "Sys.Modify": write},
                "storage": {"Datastore.Audit": 1},
                "access": {},
                "dc": {"Sys.Audit": 1},
                "sdn": {},
                "mapping": {},
            },
        }

    def verify_ticket(self, ticket: str) -> str | None:
        """The user id of a valid, unexpired ticket, else None."""
        plain, sep, sig = ticket.rpartition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE":
            return None
        if not hmac.compare_digest(self._sign(plain), sig):
            return None
        try:
            issued = int(parts[2], 16)
        except ValueError:
            return None
        if self.clock() - issued > TICKET_LIFETIME:
            return None
        return parts[1]

    def _csrf_ok(self, userid: str, token: str) -> bool:
        stamp, _, sig = token.partition(":")
        return bool(sig) and hmac.compare_digest(self._sign("csrf:" + userid + ":" + stamp), sig)

    def authenticate(self, method: str, headers: Mapping[str, str], cookie: str | None) -> Principal:
        """Resolve the caller from ``Authorization: PVEAPIToken=...`` or the ``PVEAuthCookie`` ticket."""
        header = headers.get("Authorization", "")
        if header.startswith("PVEAPIToken"):
            value = header[len("PVEAPIToken") :].lstrip(" =:")
            tokenid, _, secret = value.partition("=")
            token = self.tokens.get(tokenid.strip())
            if token is None or not hmac.compare_digest(token.secret, secret.strip()):
                raise AuthError("invalid token value!")
            return Principal(token.userid, token.tokenid, token.readonly or self._readonly(token.userid), "token")
        if cookie:
            userid = self.verify_ticket(urllib.parse.unquote(cookie))
            if userid is None:
                raise AuthError("invalid PVE ticket")
            if method != "GET" and not self._csrf_ok(userid, headers.get("CSRFPreventionToken", "")):
                raise AuthError("Permission denied - invalid csrf token")
            return Principal(userid, None, self._readonly(userid), "ticket")
        raise AuthError("No ticket")

    @staticmethod
    def authorize(principal: Principal, method: str, acl: tuple[str, str]) -> None:
        """Raise 403 naming ``acl`` (path, privilege) when a read-only principal attempts a write."""
        if method != "GET" and principal.readonly:
            raise PermissionDenied(*acl)

"""Signed tenant claims: how a transaction proves to Row-Level Security who it acts for.

Each transaction of the application role carries one setting, ``app.claim``: the caller's role, tenant
and user, the server process it was made for and an expiry, with an HMAC-SHA256 over all of them. The
key lives in ``cp_claim_key``, a table only the owner role can read; the policies' context functions
(``cp_role()``, ``cp_tenant_id()``, ``cp_user_id()``, ``cp_is_global()``) read the claim through
``cp_claim()``, a SECURITY DEFINER function that checks the signature, the process and the expiry. SQL
run as the application role (an injection, a bug) can set ``app.claim`` or ``app.role`` to anything, but
cannot sign: a forged, altered, replayed or expired claim counts as no claim (role ``anonymous``).

The control plane's processes read the key once with the owner URL they migrate with.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import psycopg

from controlplane.errors import ComponentError

CLAIM_SETTING = "app.claim"
CLAIM_TTL_SECONDS = 900
"""How long after signing a transaction may start with a claim (it then holds for the whole transaction)."""
KEY_BYTES = 32
_BLOCK = 64  # SHA-256 block size: HMAC pads the key to it


@dataclass(frozen=True)
class ClaimKey:
    """The HMAC key, and its inner and outer pads (what the SQL verifier needs, with only ``sha256``)."""

    key: bytes

    @property
    def inner_pad(self) -> bytes:
        """``key XOR 0x36...``, the prefix of the inner hash."""
        return bytes(b ^ 0x36 for b in self.key.ljust(_BLOCK, b"\0"))

    @property
    def outer_pad(self) -> bytes:
        """``key XOR 0x5c...``, the prefix of the outer hash."""
        return bytes(b ^ 0x5C for b in self.key.ljust(_BLOCK, b"\0"))

    @classmethod
    def generate(cls) -> ClaimKey:
        """A new random key."""
        return cls(secrets.token_bytes(KEY_BYTES))


def claim_body(role: str, tenant_id: UUID | None, user_id: UUID | None, backend_pid: int, expires: int) -> str:
    """The signed text: ``role|tenant|user|pid|expires`` (empty fields for no tenant or user)."""
    if "|" in role or "." in role:
        raise ValueError(f"not a role name: {role!r}")
    return f"{role}|{tenant_id or ''}|{user_id or ''}|{backend_pid}|{expires}"


def sign_claim(key: ClaimKey, role: str, tenant_id: UUID | None, user_id: UUID | None, backend_pid: int,
               *, now: float | None = None) -> str:
    """The value of ``app.claim`` for one transaction on the server process ``backend_pid``."""
    expires = int(now if now is not None else time.time()) + CLAIM_TTL_SECONDS
    body = claim_body(role, tenant_id, user_id, backend_pid, expires)
    return body + "." + hmac.new(key.key, body.encode(), hashlib.sha256).hexdigest()


def read_claim_key(owner_url: str) -> ClaimKey:
    """The key, read with the owner role (the application role cannot read it)."""
    try:
        with psycopg.connect(owner_url.replace("postgresql+psycopg://", "postgresql://", 1),
                             connect_timeout=10) as conn:
            row = conn.execute("SELECT key FROM cp_claim_key WHERE id = 1").fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise ComponentError("the database is not migrated (run `controlplane db upgrade`)",
                             component="postgresql") from exc
    except psycopg.Error as exc:
        raise ComponentError(f"cannot read the claim key as the owner role: {exc}", component="postgresql") from exc
    if row is None:
        raise ComponentError("the database has no claim key (run `controlplane db upgrade`)", component="postgresql")
    return ClaimKey(bytes(row[0]))


VERIFY_FUNCTION_SQL = f"""
CREATE FUNCTION cp_claim() RETURNS text[] LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  raw text := current_setting('{CLAIM_SETTING}', true);
  body text;
  sig text;
  parts text[];
  pads record;
BEGIN
  IF raw IS NULL OR raw !~ '^[a-z]+\\|[-0-9a-f]*\\|[-0-9a-f]*\\|[0-9]{{1,10}}\\|[0-9]{{1,12}}\\.[0-9a-f]{{64}}$' THEN
    RETURN NULL;
  END IF;
  body := split_part(raw, '.', 1);
  sig := split_part(raw, '.', 2);
  SELECT inner_pad, outer_pad INTO pads FROM cp_claim_key WHERE id = 1;
  IF pads IS NULL OR encode(sha256(pads.outer_pad || sha256(pads.inner_pad || convert_to(body, 'UTF8'))), 'hex')
       <> sig THEN
    RETURN NULL;
  END IF;
  parts := string_to_array(body, '|');
  IF parts[4]::bigint <> pg_backend_pid() OR parts[5]::bigint <= extract(epoch FROM now()) THEN
    RETURN NULL;
  END IF;
  RETURN parts[1:3];
END
$$;
"""

CONTEXT_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION cp_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT coalesce((cp_claim())[1], 'anonymous') $$;
CREATE OR REPLACE FUNCTION cp_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif((cp_claim())[2], '')::uuid $$;
CREATE OR REPLACE FUNCTION cp_user_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif((cp_claim())[3], '')::uuid $$;
"""

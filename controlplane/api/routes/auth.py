"""``/api/v1/auth``: login, token refresh, logout, who am I, password reset."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from controlplane.api.deps import CallerDep, DbDep, RuntimeDep, request_meta
from controlplane.models.identity import (
    LoginRequest,
    LogoutRequest,
    Me,
    RefreshRequest,
    ResetConfirm,
    ResetRequest,
    TokenPair,
)
from controlplane.services import auth, resets
from controlplane.services.dberrors import translated

router = APIRouter(prefix="/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def no_store(response: Response) -> None:
    """Keep credentials in a response out of every cache."""
    response.headers.update(NO_STORE)


@router.post("/login", response_model=TokenPair, operation_id="login", responses={401: {}, 429: {}})
def login(body: LoginRequest, request: Request, rt: RuntimeDep, response: Response) -> TokenPair:
    """Email and password → an access token and a refresh token (failures slow that client down)."""
    no_store(response)
    with translated():
        tokens = auth.login(rt.deps.app_engine, rt.issuer, rt.limiter, rt.policy, request_meta(request),
                            body.email, body.password)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                     expires_in=tokens.expires_in)


@router.post("/refresh", response_model=TokenPair, operation_id="refreshToken", responses={401: {}})
def refresh(body: RefreshRequest, request: Request, rt: RuntimeDep, response: Response) -> TokenPair:
    """Exchange a refresh token for new tokens; reusing an old refresh token revokes the whole login."""
    no_store(response)
    with translated():
        tokens = auth.refresh(rt.deps.app_engine, rt.issuer, rt.policy, request_meta(request), body.refresh_token)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                     expires_in=tokens.expires_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, operation_id="logout")
def logout(body: LogoutRequest, db: DbDep) -> Response:
    """End the refresh token's login (or, without one, every login of the caller); its access tokens stop
    working at once."""
    db.write("auth.logout", lambda s: auth.logout(s, db.caller, body.refresh_token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me, operation_id="getMe")
def me(caller: CallerDep) -> Me:
    """Who the credential belongs to."""
    assert caller.user_id is not None
    return Me(user_id=caller.user_id, tenant_id=caller.tenant_id, role=caller.role,  # type: ignore[arg-type]
              email=caller.email, api_key_id=caller.api_key_id, scopes=sorted(caller.scopes))


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, operation_id="requestPasswordReset",
             responses={429: {}})
def password_reset(body: ResetRequest, request: Request, rt: RuntimeDep) -> dict[str, str]:
    """Email a single-use reset token if the account exists (the answer is the same either way)."""
    with translated():
        resets.request_reset(rt.deps.app_engine, rt.mailer, rt.limiter, rt.policy, request_meta(request),
                                     body.email, rt.deps.settings.public_url)
    return {"detail": "if the account exists, a reset token has been sent to its email address"}


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT, operation_id="confirmPasswordReset",
             responses={401: {}})
def password_reset_confirm(body: ResetConfirm, request: Request, rt: RuntimeDep) -> Response:
    """Set a new password with the newest emailed token (once, before it expires). Every session of the
    account ends; ``revoke_api_keys`` (default true) revokes its API keys too."""
    with translated():
        resets.confirm_reset(rt.deps.app_engine, request_meta(request), body.token, body.password,
                                     revoke_api_keys=body.revoke_api_keys)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=NO_STORE)


@router.get("/password-reset/confirm", operation_id="describePasswordReset")
def password_reset_confirm_help(response: Response) -> dict[str, object]:
    """How to set the new password with the mailed token (the mail names this URL for scripts)."""
    no_store(response)
    return {
        "detail": "POST the token from the mail and a new password to this URL",
        "method": "POST",
        "body": {"token": "<token from the mail>", "password": "<new password>", "revoke_api_keys": True},
    }

"""Who owns a guest's spec: ``api`` (portal, REST, CLI) or a git source (``git:<source>``).

A git-managed spec changes only through its source: an API write is refused with a message naming the
repository and file to change instead (power actions stay open). Adoption moves a hand-made guest under
a source, explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import Conflict
from controlplane.models.guest import SourcePublic

if TYPE_CHECKING:
    from controlplane.services.guests import Kind

API = "api"


def git_manager(source: str) -> str:
    """The ``managed_by`` value of a git source."""
    return f"git:{source}"


def source_of(row: Any) -> SourcePublic | None:
    """The repository, file and commit of a git-managed guest (``None`` for a hand-made one)."""
    if getattr(row, "managed_by", API) == API:
        return None
    return SourcePublic(repository=row.source_repository, file=row.source_file, commit=row.source_commit)


def require_writer(kind: Kind, row: Any, manager: str = API) -> None:
    """Refuse (409) a spec change by ``manager`` to a guest someone else manages."""
    owner = getattr(row, "managed_by", API) or API
    if owner == manager:
        return
    if owner == API:
        raise Conflict(f"{kind.name} {row.name!r} was made by hand (managed_by api); "
                       "adopt it explicitly to manage it from git")
    where = f"{row.source_file or 'its file'} in {row.source_repository or owner}"
    raise Conflict(f"{kind.name} {row.name!r} is managed by {owner}: change {where} instead "
                   "(power actions stay allowed)")


def mark(session: Session, kind: Kind, guest_id: UUID, manager: str, *, repository: str | None = None,
         file: str | None = None, commit: str | None = None) -> None:
    """Record who manages the guest, and (for git) the repository, file and commit its spec came from."""
    g = kind.table
    session.execute(sa.update(g).where(g.c.id == guest_id).values(
        managed_by=manager, source_repository=repository, source_file=file, source_commit=commit,
    ))

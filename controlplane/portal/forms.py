"""Form posts into the API's own schemas: the same validation as the REST API, errors naming the field."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from controlplane.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """``model`` validated from ``data``; InvalidInput naming the first offending field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "form"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{where}: {message}", field=where) from exc


def lines(text: str) -> list[str]:
    """The non-empty lines of a textarea."""
    return [line.strip() for line in text.splitlines() if line.strip()]


async def form_data(request: Request) -> dict[str, str]:
    """The posted form's text fields (files are not accepted anywhere in the portal)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormDep = Annotated[dict[str, str], Depends(form_data)]

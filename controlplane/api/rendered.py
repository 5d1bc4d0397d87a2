"""The JSON text of documents the API has already validated and serialised, kept per row version.

A list page is mostly the same documents as the last time it was read. Each document is validated
(pydantic) and serialised once per version of its row and then reused, so a page of unchanged guests
costs one small query and a join of strings.

What a caller may see is never cached: the page's rows (which ids, in which order) come from the
database under the caller's Row-Level Security on every request, and only the rendering of a row
version the database has just returned to this caller is looked up here. The key holds everything the
document is made of that can change: the row's version in PostgreSQL (``xmin``, new on every write of
the row), its resource version and the name of its project (a join).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Iterable

DEFAULT_CAPACITY = 20_000


class RenderedDocuments:
    """A bounded, thread-safe map from a row version's key to its document's JSON text (oldest out first)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._texts: dict[Hashable, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, key: Hashable) -> str | None:
        """The JSON text stored for ``key``, if any."""
        return self._texts.get(key)

    def put(self, key: Hashable, text: str) -> None:
        """Keep ``text`` for ``key``, dropping the oldest entries beyond the capacity."""
        with self._lock:
            self._texts.pop(key, None)
            self._texts[key] = text
            while len(self._texts) > self.capacity:
                del self._texts[next(iter(self._texts))]


def page_json(items: Iterable[str], next_cursor: str | None) -> str:
    """A list page (``Page``'s shape: ``items`` and ``next_cursor``) from its items' JSON texts."""
    return '{"items":[' + ",".join(items) + '],"next_cursor":' + json.dumps(next_cursor) + "}"


def rendered_items(cache: RenderedDocuments, versions: list[tuple[Hashable, Hashable]],
                   render: Callable[[list[Hashable]], Iterable[tuple[Hashable, Hashable, str]]]) -> list[str]:
    """The JSON texts of a page's documents, given each one's ``(id, version key)`` in page order.

    The ids with no text cached for their version are given to ``render``, which yields ``(id, version key,
    JSON text)`` of the rows as it reads them; those are kept and used, so a row changed between the two
    reads is shown as read the second time, and one gone by then is left out.
    """
    texts: dict[Hashable, str | None] = {ident: cache.get(key) for ident, key in versions}
    absent = [ident for ident, text in texts.items() if text is None]
    if absent:
        for ident, key, text in render(absent):
            cache.put(key, text)
            texts[ident] = text
    return [text for text in texts.values() if text is not None]

"""The store of rendered documents: bounded, oldest out first, and a page built from it keeps page order,
uses what was read the second time, and leaves out a row gone between the two reads."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator

import pytest

from controlplane.api.rendered import RenderedDocuments, page_json, rendered_items


def test_the_store_keeps_at_most_its_capacity_dropping_the_oldest() -> None:
    cache = RenderedDocuments(capacity=2)
    cache.put("a", "1")
    cache.put("b", "2")
    cache.put("a", "1'")  # a write makes an entry the newest again
    cache.put("c", "3")
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == ("1'", None, "3", 2)
    with pytest.raises(ValueError, match="capacity"):
        RenderedDocuments(capacity=0)


def test_only_the_documents_missing_at_their_version_are_rendered_and_page_order_is_kept() -> None:
    cache = RenderedDocuments()
    cache.put(("x", 1), '{"id":"x"}')
    asked: list[list[Hashable]] = []

    def render(ids: list[Hashable]) -> Iterator[tuple[Hashable, Hashable, str]]:
        asked.append(ids)
        # "y" changed between the two reads (rendered at version 3, not 2); "z" was deleted meanwhile
        yield "y", ("y", 3), '{"id":"y","v":3}'

    items = rendered_items(cache, [("y", ("y", 2)), ("x", ("x", 1)), ("z", ("z", 1))], render)
    assert asked == [["y", "z"]]
    assert items == ['{"id":"y","v":3}', '{"id":"x"}']
    assert cache.get(("y", 3)) == '{"id":"y","v":3}' and cache.get(("y", 2)) is None
    assert rendered_items(cache, [("x", ("x", 1))], render) == ['{"id":"x"}'] and len(asked) == 1


def test_a_page_is_the_envelope_of_its_items() -> None:
    text = page_json(['{"a":1}', '{"b":"\\u00e9"}'], 'W1siIl0"')
    assert json.loads(text) == {"items": [{"a": 1}, {"b": "é"}], "next_cursor": 'W1siIl0"'}
    assert json.loads(page_json([], None)) == {"items": [], "next_cursor": None}

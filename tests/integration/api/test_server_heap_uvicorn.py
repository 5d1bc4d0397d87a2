"""The API server sets aside what its start-up left alive once it listens, so the collector's full passes
under load scan only what requests made (each pass over the start-up objects stalled requests for
120-180 ms). Real uvicorn on a loopback port."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from controlplane.stack import AnnouncingServer
from controlplane.util.heap import settle_after_start
from controlplane.util.net import free_port, wait_for


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_settling_sets_aside_what_is_alive_and_later_objects_stay_collectable() -> None:
    alive = test_settling_sets_aside_what_is_alive_and_later_objects_stay_collectable
    gc.collect()
    assert gc.get_freeze_count() == 0 and any(obj is alive for obj in gc.get_objects(generation=2))
    assert settle_after_start() > 1000  # at least the modules' objects of this process
    assert not any(obj is alive for obj in gc.get_objects(generation=2))  # set aside: no full pass scans it
    made_later: list[object] = []
    made_later.append(made_later)  # a cycle made after settling
    assert any(obj is made_later for obj in gc.get_objects(generation=0))  # the collector's to scan and free


@pytest.mark.usefixtures("unfrozen")
def test_the_api_server_settles_its_heap_once_it_listens() -> None:
    app = FastAPI()
    app.get("/ping")(lambda: {"ok": True})
    ready = threading.Event()
    port = free_port()
    server = AnnouncingServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"), ready.set)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(ready.is_set, timeout=30, what="the server's start")
        assert gc.get_freeze_count() > 1000
        assert httpx.get(f"http://127.0.0.1:{port}/ping", timeout=5).json() == {"ok": True}
    finally:
        server.should_exit = True
        thread.join(timeout=15)

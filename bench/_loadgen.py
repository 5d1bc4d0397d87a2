"""An open-loop HTTP load generator, run as its own process by the benchmarks: it sends requests at a fixed
rate for a fixed time whatever the server's latency (like ``wrk2``), and measures each request's latency
from the moment it was due, so a stalled server shows in the percentiles instead of slowing the load
(no coordinated omission).

Run: ``python bench/_loadgen.py URL --rate 200 --duration 60 [--method POST --body JSON]``; the bearer token
comes from the environment variable ``LOADGEN_TOKEN`` (never from a flag ``ps`` shows). ``{i}`` in the
body is replaced by the request's number. Prints one JSON object: sent, errors, achieved rate, latency
percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time

import aiohttp


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``sorted_values`` lie (0.0 for none)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


async def run(url: str, *, rate: float, duration: float, method: str, body: str | None, expect: int,
              token: str, connections: int) -> dict[str, object]:
    """Send ``rate * duration`` requests on schedule; the figures as a dict."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    total = int(rate * duration)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def one(i: int, due: float) -> None:
            data = body.replace("{i}", str(i)) if body is not None else None
            try:
                async with http.request(method, url, data=data) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            if status != expect:
                errors[str(status)] = errors.get(str(status), 0) + 1
            latencies.append(time.perf_counter() - due)

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        sent_for = time.perf_counter() - start
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "sent": total, "errors": errors, "sent_rate": total / sent_for if sent_for > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000, "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": (latencies[-1] * 1000) if latencies else 0.0,
    }


def main() -> None:
    """Parse the flags, run the load, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None, help="JSON body; {i} becomes the request's number")
    parser.add_argument("--expect", type=int, default=200, help="the status a good answer has")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # bounded (rate x duration requests): no collector pause in this process is counted as the server's latency
    gc.disable()
    result = asyncio.run(run(args.url, rate=args.rate, duration=args.duration, method=args.method,
                             body=args.body, expect=args.expect, token=os.environ.get("LOADGEN_TOKEN", ""),
                             connections=args.connections))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Python's native async answer to the brewery task: aiohttp on one event loop, gather over the
states, each state's pages one after the other (each needs the previous page's length).

Prints one JSON object: {"async": s, "counts": {...}}. Exits with status 3 when aiohttp is not
installed (Debian: python3-aiohttp, which scripts/install-deps installs).

usage: aiohttp_brewery.py API_URL STATE[,STATE...] [CONCURRENCY]   (CONCURRENCY 0: no cap)
"""
import asyncio
import json
import sys
import time

try:
    import aiohttp
except ImportError:
    print("aiohttp_brewery.py: aiohttp is not installed (apt-get install python3-aiohttp)", file=sys.stderr)
    sys.exit(3)

API = sys.argv[1].rstrip("/")
STATES = sys.argv[2].split(",")
CONCURRENCY = int(sys.argv[3]) if len(sys.argv) > 3 else 0


async def count(session, state):
    page = 1
    total = 0
    while True:
        params = {"by_state": state, "per_page": "200", "page": str(page)}
        async with session.get(f"{API}/breweries", params=params) as response:
            response.raise_for_status()
            breweries = await response.json()
        total += len(breweries)
        if len(breweries) < 200:
            return total
        page += 1


async def main():
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        counts = await asyncio.gather(*(count(session, state) for state in STATES))
    return time.perf_counter() - start, counts


elapsed, counts = asyncio.run(main())
print(json.dumps({"async": elapsed, "counts": dict(zip(STATES, counts))}))

#!/usr/bin/env python3
"""The seed's brewery-async.py, as the lab hands it out, pointed at any copy of the API.

get_brewery_count pages with requests.get (a new connection per request, like the seed);
async_get_brewery_count runs it in the event loop's default executor (run_in_executor);
get_brewery_counts_for_states gathers them. Timed as the seed times them: the async version,
then the serial one. Prints one JSON object: {"to_thread": s, "serial": s, "counts": {...}}.

usage: seed_brewery.py API_URL STATE[,STATE...]
"""
import asyncio
import json
import sys
import time

import requests

API = sys.argv[1].rstrip("/")
STATES = sys.argv[2].split(",")


def get_brewery_count(state):
    page = 1
    count = 0
    while True:
        response = requests.get(f"{API}/breweries?by_state={state}&per_page=200&page={page}")
        if response.status_code != 200:
            break  # the seed's behaviour: a failed page ends the count (parlab reports an error instead)
        breweries = response.json()
        count += len(breweries)
        if len(breweries) < 200:
            break
        page += 1
    return {"state": state, "brewery_count": count}


async def async_get_brewery_count(state):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, get_brewery_count, state)


async def get_brewery_counts_for_states(states):
    return await asyncio.gather(*(async_get_brewery_count(state) for state in states))


start = time.perf_counter()
async_results = asyncio.run(get_brewery_counts_for_states(STATES))
async_time = time.perf_counter() - start

start = time.perf_counter()
serial_results = [get_brewery_count(state) for state in STATES]
serial_time = time.perf_counter() - start

if async_results != serial_results:
    sys.exit("seed_brewery.py: the async and serial versions disagree")
print(json.dumps({"to_thread": async_time, "serial": serial_time,
                  "counts": {r["state"]: r["brewery_count"] for r in serial_results}}))

"""A second client of the lrw.v1 protocol, in another language: Python's
`websockets`. Given the gateway's WebSocket and HTTP stage URLs, it
negotiates lrw.v1, follows two channels, publishes from the socket and
receives an HTTP publish, then prints what it saw as one JSON line."""

import asyncio
import json
import sys
import urllib.request

import websockets

WS_URL, HTTP_URL = sys.argv[1], sys.argv[2]


async def main():
    seen = {"messages": [], "replies": {}}
    async with websockets.connect(WS_URL, subprotocols=["lrw.v1"]) as ws:
        seen["subprotocol"] = ws.subprotocol

        async def call(command):
            await ws.send(json.dumps(command))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("id") == command["id"]:
                    return frame
                seen["messages"].append(frame)

        for n, channel in enumerate(["py-a", "py-b"]):
            seen["replies"][channel] = await call(
                {"action": "subscribe", "id": f"s{n}", "channel": channel})
        seen["replies"]["publish"] = await call(
            {"action": "publish", "id": "p1", "channel": "py-b",
             "data": {"lang": "python"}, "self": True})
        request = urllib.request.Request(
            HTTP_URL + "/channels/py-a", data=b"from curl", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            seen["http"] = json.loads(response.read())
        while len(seen["messages"]) < 2:
            seen["messages"].append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    print(json.dumps(seen))


asyncio.run(main())

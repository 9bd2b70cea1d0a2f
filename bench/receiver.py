"""A loopback webhook receiver for the delivery benchmark: answers 204 to every POST, counting them."""

from __future__ import annotations

received = 0


async def app(scope, receive, send) -> None:  # a bare ASGI app: the receiver must not be the bottleneck
    global received
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    received += 1
    await send({"type": "http.response.start", "status": 204, "headers": [(b"x-received", str(received).encode())]})
    await send({"type": "http.response.body", "body": b""})

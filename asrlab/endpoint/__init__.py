"""The service on the wire: `asrlab serve`'s OpenAI-compatible app around the lab's node.

`wire` says what crosses the socket (requests, response formats, the status of every failure);
`app` is the Starlette app and the host that loads the service behind it.
"""

from __future__ import annotations

__all__: list[str] = []

"""python -m local_host.worker_http --port N: the HTTP functions served as the Azure Functions
Python worker serves them, and nothing more.

The worker (with the FastAPI extension) imports `function_app.py`, then starts its own
uvicorn through the extension's `WebApp` and `WebServer` classes: one catch-all route,
`uvicorn.Config(app, host=..., port=...)` with every other option at its default, so
uvicorn's default logging config (access log included) and its own signal handling.
The host routes each request to a function and passes the route parameters; this
module does that routing, and adds no logging set-up, signal handler or lifespan of
its own. So what the app needs process-wide must come from `function_app.py`'s own
import path: the tests run the promises (no token in any log, quiet SDK logs, a
planned reconnect on SIGTERM) against this process.

Jobs are run by another process (a local host), as on Flex Consumption, where the
queue-triggered function runs on other instances.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import re
import sys
from typing import Any

from azurefunctions.extensions.http.fastapi import Request, RequestSynchronizer, Response, WebApp, WebServer
from starlette.routing import compile_path

from local_host.functions import HttpFunction, read_functions


class Routes:
    """The host's routing: a request path and method to one HTTP function and its parameters."""

    def __init__(self, functions: list[HttpFunction]) -> None:
        self._routes: list[tuple[re.Pattern[str], HttpFunction]] = [(compile_path(f.route)[0], f) for f in functions]

    def match(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        for pattern, function in self._routes:
            found = pattern.match(path)
            if found and method in function.methods:
                return function, found.groupdict()
        return None


def web_app(routes: Routes) -> WebApp:
    app = WebApp()
    synchronizer = RequestSynchronizer()

    @app.route
    async def catch_all(request: Request) -> Any:
        matched = routes.match(request.method, request.url.path)
        if matched is None:
            return Response(status_code=404)
        function, params = matched
        synchronizer.sync_route_params(request, params)
        return await function.call(**{function.arg_name: request})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_host.worker_http", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The worker's own logging: the root logger at INFO with one handler (to the host over
    # gRPC there; to stdout here), set before it imports the app.
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s: %(message)s")
    function_app = importlib.import_module("function_app")
    routes = Routes(read_functions(function_app.app).http)
    asyncio.run(WebServer(args.host, args.port, web_app(routes)).serve())


if __name__ == "__main__":
    main()

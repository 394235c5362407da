"""The book's pages on this machine, with nothing fetched from outside it.

Two pieces, shared by the browser tests (tests/test_browser.py), the page memory probe
(tools/page_memory.py) and the smoke run's stand-in download server
(tools/smoke_full_profile.py):

* ``serve(folder)``: a quiet HTTP server on 127.0.0.1, in a thread, for a folder;
* ``answer_cdn_locally(context)``: a Playwright route that answers the CDN files the book
  loads (MathJax, ONNX Runtime Web, from jsDelivr) from the local npm copy in
  ``.ci/node/node_modules`` (``npm install --prefix .ci/node mathjax@3
  onnxruntime-web@1.30.0``, as .ci/run does), and refuses every other outside request.

The route answers a CDN URL with a redirect to a second local server, which serves
``node_modules`` with the CDN's headers, rather than with the file itself: Playwright
hands a body it fulfils to Chromium through its protocol (ONNX Runtime's 27 MB WebAssembly
file: 10 s, measured; redirected: 0.3 s), and Chromium checks CORS and CORP on what that
server sends, as it would on the CDN's answers, where it does not on fulfilled ones.
"""

import functools
import http.server
import re
import sys
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / ".ci" / "node" / "node_modules"

# jsDelivr's headers that matter to a browser: CORS for module imports, fetched WebAssembly
# and fonts; CORP so that a cross-origin isolated page (COEP: require-corp) may load them.
CDN_HEADERS = {"Access-Control-Allow-Origin": "*",
               "Cross-Origin-Resource-Policy": "cross-origin"}
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript",
                 ".wasm": "application/wasm", ".json": "application/json",
                 ".map": "application/json", ".woff": "font/woff", ".woff2": "font/woff2"}
CDN_URL = re.compile(r"^https://cdn\.jsdelivr\.net/npm/(?P<package>(@[^/@]+/)?[^/@]+)"
                     r"@(?P<version>[^/]+)/(?P<path>[^?#]+)")

# Headers that make a page cross-origin isolated (self.crossOriginIsolated: threads).
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin",
                     "Cross-Origin-Embedder-Policy": "require-corp"}


def serve(folder, headers=None, ignore_disconnects=False):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) from a daemon thread.

    ``headers``: extra headers sent with every response (e.g. ``ISOLATION_HEADERS``).
    ``ignore_disconnects``: a client that closes its connection early (a downloader that
    only probes, a browser that gives up on a request) is no error worth a traceback on
    stderr; other errors are still printed. Requests are not logged.

    Files are sent with the Content-Type a CDN gives them (``CONTENT_TYPES``, then
    ``mimetypes``). Returns ``(server, url)``, the URL without a trailing slash;
    ``server.shutdown()`` stops it.
    """
    extra = dict(headers or {})

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          **CONTENT_TYPES}

        def end_headers(self):
            for name, value in extra.items():
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not (ignore_disconnects and isinstance(sys.exc_info()[1], ConnectionError)):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def local_copy(url, node_modules=NODE_MODULES):
    """The file of ``node_modules`` that a jsDelivr npm URL names, or None: not such a URL,
    another version of the package than the one installed, or no such file."""
    match = CDN_URL.match(url)
    if not match:
        return None
    package = node_modules / match["package"]
    try:
        installed = re.search(r'"version"\s*:\s*"([^"]+)"',
                              (package / "package.json").read_text())[1].split(".")
    except (OSError, TypeError):
        return None
    wanted = match["version"].split(".")  # "3" matches 3.2.2, "1.30.0" only itself
    path = package / unquote(match["path"])
    if installed[:len(wanted)] != wanted or not path.is_file():
        return None
    return path


@functools.cache
def cdn_server(node_modules=NODE_MODULES):
    """The URL of a local server for ``node_modules`` that answers as jsDelivr does (its
    headers, its content types), started on first use for the rest of the process."""
    return serve(node_modules, headers=CDN_HEADERS, ignore_disconnects=True)[1]


def answer_cdn_locally(context, errors=None, node_modules=NODE_MODULES):
    """Route every request of the Playwright browser ``context``: those to 127.0.0.1 go
    through; a jsDelivr npm URL of an installed package is redirected to its file in
    ``node_modules``, on ``cdn_server``; anything else is aborted, and said in ``errors``
    (a list) if one is given."""

    def route(request_route):
        url = request_route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            return request_route.continue_()
        path = local_copy(url, node_modules)
        if path is not None:
            local = f"{cdn_server(node_modules)}/{quote(path.relative_to(node_modules).as_posix())}"
            return request_route.fulfill(status=307, headers={**CDN_HEADERS,
                                                              "Location": local})
        if errors is not None:
            errors.append(f"request outside the machine: {url}")
        return request_route.abort()

    context.route("**/*", route)

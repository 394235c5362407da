"""tools/local_site.py: the quiet local HTTP server and the CDN route of the browser tests."""

import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from tools.local_site import (CDN_HEADERS, ISOLATION_HEADERS, answer_cdn_locally, cdn_server,
                              local_copy, serve)


@pytest.fixture
def site(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_bytes(b"<!doctype html><p>\xc3\xa9t\xc3\xa9</p>")
    return tmp_path


def test_serve_sends_the_files_bytes_and_the_extra_headers_quietly(site, capfd):
    server, url = serve(site, headers=ISOLATION_HEADERS)
    try:
        assert url.startswith("http://127.0.0.1:") and not url.endswith("/")
        with urllib.request.urlopen(f"{url}/sub/page.html") as response:
            assert response.read() == (site / "sub" / "page.html").read_bytes()
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert response.headers["Content-Type"] == "text/html"
        with pytest.raises(urllib.error.HTTPError) as missing:  # errors carry them too
            urllib.request.urlopen(f"{url}/nothing.html")
        assert missing.value.code == 404
        assert missing.value.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    finally:
        server.shutdown()
    assert capfd.readouterr().err == ""  # no request log


def test_serve_without_headers_adds_none(site):
    server, url = serve(site)
    try:
        with urllib.request.urlopen(f"{url}/sub/page.html") as response:
            assert "Cross-Origin-Embedder-Policy" not in response.headers
    finally:
        server.shutdown()


def hang_up_during_a_download(url):
    """Ask for /big.bin, then reset the connection (RST) without reading the answer; return
    once the server's thread for that request has ended."""
    before = set(threading.enumerate())
    port = int(url.rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    client.recv(100)  # the server is writing the file
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    # Wait for this request's own handler thread: a thread left over from another request
    # ending meanwhile must not end the wait early.
    deadline = time.monotonic() + 10
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    time.sleep(0.1)


@pytest.mark.parametrize("ignore", [True, False])
def test_serve_can_ignore_clients_that_hang_up(site, capfd, ignore):
    (site / "big.bin").write_bytes(bytes(32 << 20))  # far more than the socket buffers
    server, url = serve(site, ignore_disconnects=ignore)
    try:
        hang_up_during_a_download(url)
        with urllib.request.urlopen(f"{url}/sub/page.html") as response:  # still serving
            assert response.status == 200
    finally:
        server.shutdown()
    err = capfd.readouterr().err
    if ignore:
        assert err == ""
    else:  # the default: shown, as any other error
        assert "Traceback" in err and ("BrokenPipeError" in err or "ConnectionReset" in err)


@pytest.fixture
def node_modules(tmp_path):
    package = tmp_path / "onnxruntime-web"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "onnxruntime-web", "version": "1.30.0"}')
    (package / "dist" / "ort.wasm.min.js").write_text("var ort = {};")
    (package / "dist" / "ort-wasm-simd-threaded.wasm").write_bytes(b"\0asm")
    return tmp_path


CDN = "https://cdn.jsdelivr.net/npm"


def test_local_copy_maps_jsdelivr_urls_of_the_installed_version(node_modules):
    dist = node_modules / "onnxruntime-web" / "dist"
    assert local_copy(f"{CDN}/onnxruntime-web@1.30.0/dist/ort.wasm.min.js",
                      node_modules) == dist / "ort.wasm.min.js"
    assert local_copy(f"{CDN}/onnxruntime-web@1/dist/ort.wasm.min.js?v=2",
                      node_modules) == dist / "ort.wasm.min.js"  # a major version, a query
    assert local_copy(f"{CDN}/onnxruntime-web@1.31.0/dist/ort.wasm.min.js", node_modules) is None
    assert local_copy(f"{CDN}/onnxruntime-web@1.3/dist/ort.wasm.min.js", node_modules) is None
    assert local_copy(f"{CDN}/onnxruntime-web@1.30.0/dist/nothing.js", node_modules) is None
    assert local_copy(f"{CDN}/mathjax@3/es5/tex-mml-chtml.js", node_modules) is None
    assert local_copy("https://example.org/onnxruntime-web@1.30.0/dist/ort.wasm.min.js",
                      node_modules) is None


def test_serve_sends_the_content_types_of_a_cdn(tmp_path):
    for name in ("ort.min.js", "ort.min.mjs", "ort.wasm", "ort.min.js.map", "Main.woff"):
        (tmp_path / name).write_bytes(b"x")
    server, url = serve(tmp_path)
    try:
        kinds = {}
        for name in ("ort.min.js", "ort.min.mjs", "ort.wasm", "ort.min.js.map", "Main.woff"):
            with urllib.request.urlopen(f"{url}/{name}") as response:
                kinds[name] = response.headers["Content-Type"]
    finally:
        server.shutdown()
    assert kinds == {"ort.min.js": "text/javascript", "ort.min.mjs": "text/javascript",
                     "ort.wasm": "application/wasm", "ort.min.js.map": "application/json",
                     "Main.woff": "font/woff"}


class FakeRoute:
    """What a Playwright route handler is given, recording the one answer it makes."""

    def __init__(self, url):
        self.request = SimpleNamespace(url=url)
        self.answer = None

    def continue_(self):
        self.answer = ("continue",)

    def fulfill(self, status, headers):
        self.answer = ("fulfill", status, headers)

    def abort(self):
        self.answer = ("abort",)


def test_the_route_answers_the_cdn_locally_and_refuses_the_rest(node_modules):
    routes = []
    context = SimpleNamespace(route=lambda pattern, handler: routes.append((pattern, handler)))
    errors = []
    answer_cdn_locally(context, errors, node_modules)
    [(pattern, handler)] = routes
    assert pattern == "**/*"

    def answer(url):
        route = FakeRoute(url)
        handler(route)
        return route.answer

    assert answer("http://127.0.0.1:8000/book/index.html") == ("continue",)
    # A CDN file: redirected to the local copy, which comes with the CDN's headers.
    kind, status, headers = answer(f"{CDN}/onnxruntime-web@1.30.0/dist/"
                                   "ort-wasm-simd-threaded.wasm")
    local = f"{cdn_server(node_modules)}/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm"
    assert (kind, status, headers) == ("fulfill", 307, {**CDN_HEADERS, "Location": local})
    with urllib.request.urlopen(local) as response:
        assert response.read() == b"\0asm"
        assert response.headers["Content-Type"] == "application/wasm"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert errors == []
    assert answer("https://fonts.example.org/a.woff2") == ("abort",)
    assert answer(f"{CDN}/onnxruntime-web@1.31.0/dist/ort.wasm.min.js") == ("abort",)
    assert errors == ["request outside the machine: https://fonts.example.org/a.woff2",
                      f"request outside the machine: {CDN}/onnxruntime-web@1.31.0/dist/"
                      "ort.wasm.min.js"]

"""A one-shot local HTTP listener that catches the OAuth redirect on the redirect_uri's port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from qbsync.errors import AuthError
from qbsync.settings import is_loopback_host

_DONE_PAGE = (b"<!doctype html><title>qbsync</title><h1>qbsync is connected</h1>"
              b"<p>You can close this window and return to the terminal.</p>")
_FAILED_PAGE = (b"<!doctype html><title>qbsync</title><h1>QuickBooks did not connect</h1>"
                b"<p>Return to the terminal for details.</p>")


class CallbackListener:
    """Serves the redirect_uri's path on its loopback port until one redirect arrives.

    Use as a context manager: start it before showing the authorization URL, then ``wait()``.
    Requests to other paths (a browser's favicon) get 404 and are not counted.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or not is_loopback_host(parts.hostname):
            raise AuthError(
                f"cannot listen for the redirect to {redirect_uri}: it is not a plain http loopback URL",
                hint="use `qbsync auth login --no-browser` and paste the redirected URL, or set "
                     "redirect_uri to http://localhost:<port>/callback (registered in your Intuit app)")
        self.redirect_uri = redirect_uri
        self._path = parts.path or "/"
        host = parts.hostname or "127.0.0.1"
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = parts.port or 80
        self._result: str | None = None
        self._event = threading.Event()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> CallbackListener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != listener._path or listener._event.is_set():
                    self.send_error(404)
                    return
                ok = "code" in parse_qs(parts.query)
                page = _DONE_PAGE if ok else _FAILED_PAGE
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                listener._result = listener.redirect_uri.split("?")[0] + ("?" + parts.query if parts.query
                                                                          else "")
                listener._event.set()

            def log_message(self, format: str, *args: object) -> None:
                # The query string carries the authorization code: keep it out of stderr.
                return

        try:
            self._server = HTTPServer((self._host, self._port), Handler)
        except OSError as exc:
            raise AuthError(f"cannot listen on {self._host}:{self._port} for the redirect ({exc.strerror})",
                            hint="free that port, or use `qbsync auth login --no-browser`") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="qbsync-oauth-callback",
                                        daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> str:
        """The full redirected URL (with code, state, realmId); AuthError after ``timeout`` seconds."""
        if not self._event.wait(timeout):
            raise AuthError("no redirect from QuickBooks arrived in time",
                            hint="run `qbsync auth login` again, or use --no-browser and paste the URL")
        assert self._result is not None
        return self._result

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CallbackListener:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

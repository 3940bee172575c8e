"""A local HTTP server on 127.0.0.1 serving a folder (tests of downloads; no internet here)."""

import contextlib
import functools
import http.server
import threading


@contextlib.contextmanager
def serve(root, handler_class=http.server.SimpleHTTPRequestHandler):
    """Yield the base URL of a threaded server for `root`; shut it down afterwards."""
    quiet = type("Quiet", (handler_class,), {"log_message": lambda *a: None})
    handler = functools.partial(quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)

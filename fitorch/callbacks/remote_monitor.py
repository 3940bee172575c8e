"""`RemoteMonitor`: POST each epoch's logs to a server (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

from fitorch.callbacks import files
from fitorch.callbacks.base import Callback

__all__ = ["RemoteMonitor"]


def _plain(value):
    """JSON-able form of a log value (NumPy scalars/arrays, tensors -> Python numbers/lists)."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


class RemoteMonitor(Callback):
    """At each epoch end, POST `{"epoch": epoch, **logs}` to `root + path`.

    `send_as_json=True` sends the dict as a JSON body (`Content-Type: application/json`);
    otherwise a form body with one field `field` holding the JSON text (Keras). An
    unreachable server warns `Could not reach RemoteMonitor root server at {root}` and
    training goes on. Only the main process sends.

    Args:
        root: server URL, e.g. "http://localhost:9000".
        path: path appended to root.
        field: form field name (form mode).
        headers: extra HTTP headers.
        send_as_json: JSON body instead of form data.
        timeout: seconds to wait for the server (fitorch).
    """

    def __init__(
        self,
        root="http://localhost:9000",
        path="/publish/epoch/end/",
        field="data",
        headers=None,
        send_as_json=False,
        *,
        timeout=10.0,
    ):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = dict(headers or {})
        self.send_as_json = send_as_json
        self.timeout = timeout

    def on_epoch_end(self, epoch, logs=None):
        if not files.is_main_process():
            return
        payload = {"epoch": epoch, **{k: _plain(v) for k, v in (logs or {}).items()}}
        if self.send_as_json:
            body = json.dumps(payload).encode("utf-8")
            content_type = "application/json"
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(payload)}).encode("utf-8")
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, **self.headers}
        request = urllib.request.Request(
            self.root + self.path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)

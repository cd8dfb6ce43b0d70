"""A host platform's page on another origin, framing a Cohort dashboard as docs/embedding.md
shows: it hands the frame its token on `cohort:ready` and a fresh one when asked by
`cohort:session-expired` (here, when the test calls `sendFresh()`)."""

from __future__ import annotations

import functools
import html
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.databases import free_port


def host_html(cohort: str, dashboard: str, token: str, fresh: str | None = None) -> str:
    src = html.escape(f"{cohort}/embed/dashboards/{dashboard}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host LMS</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;font-family:sans-serif">
<header style="padding:8px 16px;background:#0f172a;color:#fff">Host LMS</header>
<iframe id="dashboard" src="{src}" title="Dashboard" style="width:100%;height:1400px;border:0"></iframe>
<script>
  const cohort = {json.dumps(cohort)};
  let token = {json.dumps(token)};
  const fresh = {json.dumps(fresh)};
  window.cohortEvents = [];
  const frame = document.getElementById("dashboard");
  window.addEventListener("message", (event) => {{
    if (event.origin !== cohort) return;
    window.cohortEvents.push(event.data);
    if (event.data.type === "cohort:ready") {{
      frame.contentWindow.postMessage({{type: "cohort:session", token}}, cohort);
    }}
  }});
  // The host's back end would mint a new session here (POST /embed/sessions).
  window.sendFresh = () => frame.contentWindow.postMessage({{type: "cohort:session", token: fresh}}, cohort);
</script>
</body></html>
"""


@contextmanager
def host_site(folder: Path) -> Iterator[str]:
    """Serves the files of `folder` on 127.0.0.1 (another port: another origin); yields its origin."""
    port = free_port()
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

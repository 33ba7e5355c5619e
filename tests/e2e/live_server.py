"""The pieces of a browser test that run outside pytest's process: the helpdesk served by Daphne in a
spawned child (websockets included, which pytest-django's WSGI `live_server` cannot serve), and a
customer's website on another origin that embeds the chat widget.

This module is imported by the child before Django is set up, so it imports nothing of the project at
module level.
"""

from __future__ import annotations

import http.server
import os
import threading
from dataclasses import dataclass, field

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
HELPDESK_HOST = "127.0.0.1"
# Chromium resolves every *.localhost name to the loopback address. The name is not in ALLOWED_HOSTS, like
# a real customer's site: the widget socket must be accepted by the widget's allowed origins alone.
SHOP_HOST = "shop.localhost"


def helpdesk_application(*, database_url: str, media_root: str):
    """Runs in the Daphne child, first thing: point Django at the test database, then build the ASGI app
    (static files served, as `runserver` would)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = media_root
    # The parent allows sync ORM calls beside Playwright's event loop; the server must not inherit that,
    # so a consumer calling the ORM from async code fails here as it would in production.
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

    from channels.routing import get_default_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(get_default_application())


@dataclass
class HostPage:
    """A shop's website that embeds the chat widget with its one script tag."""

    helpdesk_url: str
    widget_key: str
    server: http.server.ThreadingHTTPServer = field(init=False)

    @property
    def origin(self) -> str:
        return f"http://{SHOP_HOST}:{self.server.server_port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def html(self) -> str:
        return (
            '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>テストショップ</title></head><body><h1>テストショップ</h1>"
            "<p>いつもご利用ありがとうございます。</p>"
            f'<script src="{self.helpdesk_url}/static/widget/widget.js" data-helpdesk-key="{self.widget_key}" async>'
            "</script></body></html>"
        )

    def start(self) -> HostPage:
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = page.html().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="host-page", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

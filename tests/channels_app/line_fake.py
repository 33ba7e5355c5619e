"""A fake of the LINE Messaging API endpoints the helpdesk calls, served from a thread on 127.0.0.1.

It answers the way LINE documents (https://developers.line.biz/en/reference/messaging-api/): reply tokens
work once, a push whose X-Line-Retry-Key was already accepted answers 409 with
x-line-accepted-request-id, errors carry {"message": ..., "details": [...]}. Point a `LineClient` at it
with `api_base=fake.url, data_base=fake.url`.

    with running_fake_line_api() as fake:
        fake.add_profile("U...", "Hanako")
        fake.fail_next(500)
        ...
        assert fake.pushes == [...]
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_TOKEN = "test-channel-access-token"

_PROFILE = re.compile(r"^/v2/bot/profile/(?P<user_id>[^/]+)$")
_CONTENT = re.compile(r"^/v2/bot/message/(?P<message_id>[^/]+)/content$")


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclasses.dataclass(frozen=True)
class _Failure:
    status: int
    body: dict
    accept: bool  # process the request (deliver, use the token or key) before failing, as a lost answer would
    delay: float


@dataclasses.dataclass
class _Content:
    data: bytes
    content_type: str
    send_length: bool


class FakeLineApi:
    def __init__(self, *, access_token: str = ACCESS_TOKEN) -> None:
        self.access_token = access_token
        self.requests: list[RecordedRequest] = []
        self.replies: list[dict] = []  # accepted reply bodies
        self.pushes: list[dict] = []  # accepted push bodies
        self._profiles: dict[str, dict] = {}
        self._contents: dict[str, _Content] = {}
        self._used_reply_tokens: set[str] = set()
        self._accepted_retry_keys: dict[str, tuple[str, list[dict]]] = {}
        self._failures: list[_Failure | None] = []  # None: answer normally
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_profile(self, user_id: str, display_name: str, *, picture_url: str = "", language: str = "") -> None:
        profile = {"userId": user_id, "displayName": display_name}
        if picture_url:
            profile["pictureUrl"] = picture_url
        if language:
            profile["language"] = language
        self._profiles[user_id] = profile

    def add_content(
        self, message_id: str, data: bytes, content_type: str = "image/jpeg", *, send_length: bool = True
    ) -> None:
        """Content for /v2/bot/message/{id}/content; without `send_length` the body just runs to the close."""
        self._contents[message_id] = _Content(data, content_type, send_length)

    def expire_reply_token(self, reply_token: str) -> None:
        self._used_reply_tokens.add(reply_token)

    def fail_next(
        self,
        status: int = 500,
        *,
        count: int = 1,
        after: int = 0,
        message: str = "",
        accept: bool = False,
        delay: float = 0.0,
    ) -> None:
        """`count` requests, once `after` more have been answered normally, answer `status`. With `accept`,
        a send is carried out first (delivered, its token or retry key used) and only the answer is lost.
        `delay` holds the answer back that many seconds (a timeout)."""
        body = {"message": message or _DEFAULT_ERRORS.get(status, "An error occurred")}
        with self._lock:
            self._failures.extend([None] * after)
            self._failures.extend(_Failure(status, body, accept, delay) for _ in range(count))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def start(self) -> FakeLineApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-line-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
            failure = self._failures.pop(0) if self._failures else None
            if failure is None:
                return self._answer(request)
            if failure.accept:
                self._answer(request)
        if failure.delay:
            time.sleep(failure.delay)
        return _json(failure.status, failure.body)

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _json(401, {"message": _DEFAULT_ERRORS[401]})
        if request.method == "POST" and request.path == "/v2/bot/message/reply":
            return self._reply(request)
        if request.method == "POST" and request.path == "/v2/bot/message/push":
            return self._push(request)
        if request.method == "GET" and (match := _PROFILE.match(request.path)):
            profile = self._profiles.get(match["user_id"])
            return _json(200, profile) if profile else _json(404, {"message": "Not found"})
        if request.method == "GET" and (match := _CONTENT.match(request.path)):
            content = self._contents.get(match["message_id"])
            if content is None:
                return _json(404, {"message": "Not found"})
            headers = {"Content-Type": content.content_type}
            if content.send_length:
                headers["Content-Length"] = str(len(content.data))
            return 200, headers, content.data
        return _json(404, {"message": "Not found"})

    def _reply(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if "x-line-retry-key" in request.headers:  # only the push family takes retry keys
            return _json(400, {"message": "The retry key is not supported by this API"})
        body, errors = _message_request(request, "replyToken")
        if errors:
            return _invalid(errors)
        if body["replyToken"] in self._used_reply_tokens:
            return _json(400, {"message": "Invalid reply token"})
        self._used_reply_tokens.add(body["replyToken"])
        self.replies.append(body)
        return _json(200, {"sentMessages": _sent(body["messages"])})

    def _push(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        retry_key = request.headers.get("x-line-retry-key")
        if retry_key is not None and not _is_uuid(retry_key):
            return _json(400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"})
        if retry_key in self._accepted_retry_keys:
            accepted_request_id, sent = self._accepted_retry_keys[retry_key]
            status, headers, answer = _json(409, {"message": "The retry key is already accepted", "sentMessages": sent})
            return status, {**headers, "x-line-accepted-request-id": accepted_request_id}, answer
        body, errors = _message_request(request, "to")
        if errors:
            return _invalid(errors)
        self.pushes.append(body)
        status, headers, answer = _json(200, {"sentMessages": _sent(body["messages"])})
        if retry_key is not None:
            self._accepted_retry_keys[retry_key] = (headers["x-line-request-id"], json.loads(answer)["sentMessages"])
        return status, headers, answer


@contextlib.contextmanager
def running_fake_line_api(*, access_token: str = ACCESS_TOKEN) -> Iterator[FakeLineApi]:
    fake = FakeLineApi(access_token=access_token).start()
    try:
        yield fake
    finally:
        fake.stop()


_DEFAULT_ERRORS = {
    400: "The request body has 1 error(s)",
    401: "Authentication failed. Confirm that the access token in the authorization header is valid.",
    403: "The request is not authorized.",
    429: "The API rate limit has been exceeded. Try again later.",
    500: "An internal server error occurred.",
}


def _handler_for(fake: FakeLineApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            status, headers, body = fake.handle(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the client gave up (a timeout test, a size cap)
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _message_request(request: RecordedRequest, target: str) -> tuple[dict, list[dict]]:
    try:
        body = request.json
    except ValueError:
        return {}, [{"message": "The request body is not valid JSON"}]
    if not isinstance(body, dict):
        return {}, [{"message": "The request body is not a JSON object"}]
    errors = []
    if not isinstance(body.get(target), str) or not body[target]:
        errors.append({"message": "Must not be empty", "property": target})
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        errors.append({"message": "Size must be between 1 and 5", "property": "messages"})
        return body, errors
    for index, message in enumerate(messages):
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text:
            errors.append({"message": "Must not be empty", "property": f"messages[{index}].text"})
        elif len(text.encode("utf-16-le")) // 2 > 5000:
            errors.append({"message": "Length must be between 0 and 5000", "property": f"messages[{index}].text"})
    return body, errors


def _invalid(errors: list[dict]) -> tuple[int, dict[str, str], bytes]:
    return _json(400, {"message": f"The request body has {len(errors)} error(s)", "details": errors})


def _sent(messages: list[dict]) -> list[dict]:
    return [{"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex} for _ in messages]


def _json(status: int, body: dict) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-line-request-id": str(uuid.uuid4())}
    data = json.dumps(body).encode()
    return status, {**headers, "Content-Length": str(len(data))}, data


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

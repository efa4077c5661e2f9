"""`kumo.http` (kumod: crates/mod-http) on httpx.

`kumo.http.build_client{user_agent=, timeout=, pool_idle_timeout=,
connection_verbose=, accept_invalid_certs=}` returns a client whose `get`,
`post` and `put` give a request builder (`header`, `headers`, `timeout`,
`basic_auth`, `bearer_auth`, `body`, `form_url_encoded`,
`form_multipart_data`, `send`); `send()` returns a response
(`status_code`, `status_reason`, `status_is_success` and the other
`status_is_*`, `headers` (a case-insensitive map), `content_length`,
`text`, `bytes`).  `kumo.http.build_url(url, params)` appends query
parameters.

A request reaches the network only when the network is allowed (--network,
`Policy.load(network=True)`, `kumo_network = true`); otherwise `send()` fails
with a Lua error naming the URL.  A test can instead route every request to
a loopback server (`Policy.load(http_base="http://127.0.0.1:PORT")`, which
the `kumo_http` pytest fixture does): the scheme and host are replaced, the
path and query kept, and each request is recorded in `policy.http_requests`.
A fake given with `Policy.load(fakes={"http.build_client": fn})` still
replaces the client entirely (docs/library.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from .._errors import KumoError
from .._runtime import decode, lua_type
from . import _schema as s
from ._args import lua_type_name
from ._lib import LibObject, bytes_arg, rust_string
from .network import require_network

if TYPE_CHECKING:
    import httpx

    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["HttpRequestRecord", "register"]

CLIENT_OPTIONS = s.Struct(
    "ClientOptions",
    [
        s.Field("user_agent", s.Opt(s.Str())),
        s.Field("connection_verbose", s.Opt(s.Bool())),
        s.Field("pool_idle_timeout", s.Opt(s.Duration())),
        s.Field("timeout", s.Opt(s.Duration())),
        s.Field("accept_invalid_certs", s.Opt(s.Bool())),
    ],
    deny_unknown_fields=False,
)

DEFAULT_TIMEOUT = 60.0


@dataclass
class HttpRequestRecord:
    """One request a policy sent (kept in `Policy.http_requests`)."""

    method: str
    url: str
    sent_to: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def register(kumo: Namespace) -> None:
    kumo.function(
        "http.build_client",
        _build_client,
        notes="on httpx; requests reach the network only with --network (or go to a loopback "
        "test server: the kumo_http fixture); a fake from Policy(fakes=...) replaces it; "
        "aws_sign_v4 not supported",
    )
    kumo.function("http.build_url", _build_url)


def _string_map(state: LuaState, value: Any, what: str) -> dict[str, str]:
    if lua_type(value) != "table":
        raise KumoError(f"error converting Lua {lua_type_name(value)} to HashMap<String, String>")
    out: dict[str, str] = {}
    for k, v in value.items():
        out[rust_string(k)] = rust_string(v)
    return out


def _build_url(state: LuaState, url: Any = None, params: Any = None) -> Any:
    text = rust_string(url)
    query = _string_map(state, params, "params")
    try:
        parts = urlsplit(text)
        if not parts.scheme:
            raise ValueError("relative URL without a base")
    except ValueError as e:
        raise KumoError(str(e)) from None
    extra = urlencode(list(query.items()))
    joined = f"{parts.query}&{extra}" if parts.query and extra else (parts.query or extra)
    path = parts.path or ("/" if parts.netloc else "")
    return state.to_lua(urlunsplit((parts.scheme, parts.netloc, path, joined, parts.fragment)))


def _build_client(state: LuaState, options: Any = None, *args: Any) -> Any:
    fake = getattr(state.process, "fakes", {}).get("http.build_client")
    if fake is not None:
        from .fakes import _call

        return _call(state, fake, (options, *args))
    opts = s.deserialize(state, CLIENT_OPTIONS, options if options is not None else {})
    timeout = opts["timeout"]
    return HttpClient(
        user_agent=opts["user_agent"],
        timeout=s.duration_seconds(timeout) if timeout is not None else DEFAULT_TIMEOUT,
        verify=not bool(opts["accept_invalid_certs"]),
    )


class HttpClient(LibObject):
    lua_type_name = "HttpClient"

    def __init__(self, *, user_agent: str | None, timeout: float, verify: bool) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.verify = verify
        self.closed = False

    def _request(self, state: LuaState, method: str, url: Any) -> Request:
        if self.closed:
            raise KumoError("client was closed")
        return Request(self, method, rust_string(url))

    def get(self, state: LuaState, url: Any = None, *_: Any) -> Request:
        return self._request(state, "GET", url)

    def post(self, state: LuaState, url: Any = None, *_: Any) -> Request:
        return self._request(state, "POST", url)

    def put(self, state: LuaState, url: Any = None, *_: Any) -> Request:
        return self._request(state, "PUT", url)

    def close(self, state: LuaState, *_: Any) -> None:
        self.closed = True

    methods: ClassVar[dict[str, Any]] = {"get": get, "post": post, "put": put, "close": close}


class Request(LibObject):
    lua_type_name = "HttpRequest"

    def __init__(self, client: HttpClient, method: str, url: str) -> None:
        self.client = client
        self.method = method
        self.url = url
        self.headers: list[tuple[str, str]] = []
        self.body: bytes = b""
        self.timeout: float | None = None
        self.auth: tuple[str, str] | None = None
        self.sent = False

    def _live(self) -> Request:
        if self.sent:
            raise KumoError("broken request builder")
        return self

    def header(self, state: LuaState, key: Any = None, value: Any = None, *_: Any) -> Request:
        self._live().headers.append((rust_string(key), rust_string(value)))
        return self

    def headers_(self, state: LuaState, headers: Any = None, *_: Any) -> Request:
        self._live().headers.extend(_string_map(state, headers, "headers").items())
        return self

    def timeout_(self, state: LuaState, duration: Any = None, *_: Any) -> Request:
        from .._duration import parse_duration

        if isinstance(duration, int | float) and not isinstance(duration, bool):
            seconds = float(duration)
        elif isinstance(duration, bytes):
            try:
                seconds = parse_duration(decode(duration))
            except ValueError as e:
                raise KumoError(str(e)) from None
        else:
            raise KumoError("invalid timeout duration")
        self._live().timeout = seconds
        return self

    def basic_auth(self, state: LuaState, user: Any = None, password: Any = None, *_: Any) -> Any:
        self._live().auth = (rust_string(user), "" if password is None else rust_string(password))
        return self

    def bearer_auth(self, state: LuaState, token: Any = None, *_: Any) -> Request:
        self._live().headers.append(("Authorization", f"Bearer {rust_string(token)}"))
        return self

    def body_(self, state: LuaState, body: Any = None, *_: Any) -> Request:
        self._live().body = bytes_arg(body)
        return self

    def form_url_encoded(self, state: LuaState, params: Any = None, *_: Any) -> Request:
        form = _string_map(state, params, "params")
        self._live().body = urlencode(list(form.items())).encode()
        self.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        return self

    def form_multipart_data(self, state: LuaState, params: Any = None, *_: Any) -> Request:
        if lua_type(params) != "table":
            raise KumoError(f"error converting Lua {lua_type_name(params)} to HashMap")
        boundary = uuid.uuid4().hex
        parts: list[bytes] = []
        for k, v in params.items():
            name = rust_string(k)
            if isinstance(v, bytes):
                head = f'Content-Disposition: form-data; name="{name}"\r\n'
                try:
                    v.decode("utf-8")
                    head += "Content-Type: text/plain; charset=utf-8\r\n"
                except UnicodeDecodeError:
                    head += "Content-Type: application/octet-stream\r\n"
                parts.append(head.encode() + b"\r\n" + v)
            else:
                file = state.to_python(v, serialize=True)
                if not isinstance(file, dict) or not {"data", "file_name"} <= set(file):
                    raise KumoError("missing field `data` or `file_name` (expected FilePart)")
                head = (
                    f'Content-Disposition: form-data; name="{name}"; '
                    f'filename="{file["file_name"]}"\r\nContent-Type: application/octet-stream\r\n'
                )
                parts.append(head.encode() + b"\r\n" + str(file["data"]).encode())
        body = b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts)
        body += f"--{boundary}--\r\n".encode()
        self._live().body = body
        self.headers.append(("Content-Type", f'multipart/form-data; boundary="{boundary}"'))
        return self

    def aws_sign_v4(self, state: LuaState, *_: Any) -> Any:
        raise KumoError("kumopy: HttpRequest:aws_sign_v4 is not supported")

    def send(self, state: LuaState, *_: Any) -> Response:
        self._live()
        self.sent = True
        policy = state.process
        base = getattr(policy, "http_base", None)
        target = self.url
        if base:
            target = _reroute(self.url, base)
        else:
            require_network(state, f"the HTTP {self.method} request to {self.url}")
        headers = list(self.headers)
        if self.client.user_agent is not None:
            headers.append(("User-Agent", self.client.user_agent))
        record = HttpRequestRecord(
            self.method, self.url, target, dict(headers), self.body
        )
        log = getattr(policy, "http_requests", None)
        if isinstance(log, list):
            log.append(record)
        timeout = self.timeout if self.timeout is not None else self.client.timeout
        import httpx  # (imported at the first request: start-up)

        try:
            with httpx.Client(verify=self.client.verify, timeout=timeout) as client:
                response = client.request(
                    self.method,
                    target,
                    headers=headers,
                    content=self.body or None,
                    auth=self.auth,
                )
                data = response.read()
        except httpx.HTTPError as e:
            record.error = f"{type(e).__name__}: {e}"
            raise KumoError(f"error sending request for url ({self.url}): {e}") from None
        record.status = response.status_code
        return Response(response.status_code, response.reason_phrase, response.headers, data)

    methods: ClassVar[dict[str, Any]] = {
        "header": header,
        "headers": headers_,
        "timeout": timeout_,
        "basic_auth": basic_auth,
        "bearer_auth": bearer_auth,
        "body": body_,
        "form_url_encoded": form_url_encoded,
        "form_multipart_data": form_multipart_data,
        "aws_sign_v4": aws_sign_v4,
        "send": send,
    }


def _reroute(url: str, base: str) -> str:
    parts, to = urlsplit(url), urlsplit(base)
    return urlunsplit((to.scheme, to.netloc, parts.path or "/", parts.query, ""))


class Response(LibObject):
    lua_type_name = "HttpResponse"

    def __init__(self, status: int, reason: str, headers: httpx.Headers, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.header_map = HeaderMap(headers)
        self.body: bytes | None = body

    def _take(self) -> bytes:
        if self.body is None:
            raise KumoError("broken response wrapper")
        body, self.body = self.body, None
        return body

    def status_code(self, state: LuaState, *_: Any) -> int:
        return self.status

    def status_reason(self, state: LuaState, *_: Any) -> Any:
        from http import HTTPStatus

        try:
            return state.to_lua(HTTPStatus(self.status).phrase)
        except ValueError:
            return None

    def _range(lo: int, hi: int) -> Any:  # type: ignore[misc]
        def check(self: Response, state: LuaState, *_: Any) -> bool:
            return lo <= self.status < hi

        return check

    def headers(self, state: LuaState, *_: Any) -> HeaderMap:
        if self.body is None:
            raise KumoError("broken response wrapper")
        return self.header_map

    def content_length(self, state: LuaState, *_: Any) -> Any:
        if self.body is None:
            raise KumoError("broken response wrapper")
        value = self.header_map.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    def text(self, state: LuaState, *_: Any) -> Any:
        return self._take().decode("utf-8", "replace").encode("utf-8")

    def bytes_(self, state: LuaState, *_: Any) -> Any:
        return self._take()

    methods: ClassVar[dict[str, Any]] = {
        "status_code": status_code,
        "status_reason": status_reason,
        "status_is_informational": _range(100, 200),
        "status_is_success": _range(200, 300),
        "status_is_redirection": _range(300, 400),
        "status_is_client_error": _range(400, 500),
        "status_is_server_error": _range(500, 600),
        "headers": headers,
        "content_length": content_length,
        "text": text,
        "bytes": bytes_,
    }


class HeaderMap(LibObject):
    """A response's headers: `h['content-type']` (any case), `pairs(h)`."""

    lua_type_name = "HeaderMap"

    def __init__(self, headers: httpx.Headers) -> None:
        self.headers = headers

    def lua_index(self, state: LuaState, key: Any) -> Any:
        if not isinstance(key, bytes):
            raise KumoError(f"error converting Lua {lua_type_name(key)} to String")
        value = self.headers.get(decode(key))
        return None if value is None else value.encode("latin-1", "replace")

    def lua_items(self, state: LuaState) -> Any:
        for k, v in self.headers.multi_items():
            yield k.lower().encode(), v.encode("latin-1", "replace")

    def to_data(self) -> Any:
        return {k.lower(): v for k, v in self.headers.multi_items()}

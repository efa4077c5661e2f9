"""kumo.http (kumod: crates/mod-http) on httpx, against a loopback server
(pytest-httpserver), through the Python API, the pytest plugin and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kumopy import PolicyError
from kumopy.cli import cli

WEBHOOK = """
local kumo = require 'kumo'
kumo.on('t', function(url, payload)
  local client = kumo.http.build_client { user_agent = 'kumopy-test', timeout = '5s' }
  local response = client:post(url)
    :header('Content-Type', 'application/json')
    :basic_auth('user', 'secret')
    :body(payload)
    :send()
  local headers = response:headers()
  return response:status_code(), response:status_is_success(), response:text(),
    headers['X-Reply'], headers['x-reply'], response:status_reason()
end)
"""


@pytest.fixture
def server() -> Any:
    s = HTTPServer(host="127.0.0.1", port=0)
    s.start()
    yield s
    s.clear()
    s.stop()


def test_a_request_reaches_a_server_with_network(load: Any, server: HTTPServer) -> None:
    server.expect_request("/hook", method="POST", json={"a": 1}).respond_with_json(
        {"ok": True}, status=201, headers={"X-Reply": "yes"})
    p = load(WEBHOOK, network=True)
    got = p.dispatch("t", server.url_for("/hook"), '{"a": 1}').values
    assert got[0] == 201 and got[1] is True
    assert json.loads(got[2]) == {"ok": True}
    assert got[3] == got[4] == "yes" and got[5] == "Created"
    (request, _response), = server.log
    assert request.headers["User-Agent"] == "kumopy-test"
    assert request.authorization.username == "user"
    assert p.http_requests[0].url == server.url_for("/hook")


def test_without_network_send_fails_naming_the_url(load: Any, server: HTTPServer) -> None:
    p = load(WEBHOOK)
    with pytest.raises(PolicyError, match=r"init.lua:\d+: kumopy: network access is off, so the "
                       r"HTTP POST request to http://127.0.0.1:\d+/hook was not sent"):
        p.dispatch("t", server.url_for("/hook"), "{}")
    assert server.log == []


def test_http_base_routes_every_host_to_the_test_server(load: Any, server: HTTPServer) -> None:
    server.expect_request("/v1/events", query_string="k=v").respond_with_data("done")
    p = load(WEBHOOK, http_base=server.url_for("/").rstrip("/"))
    got = p.dispatch("t", "https://hooks.example.com/v1/events?k=v", "{}").values
    assert got[0] == 200 and got[2] == "done"
    record = p.http_requests[0]
    assert record.url == "https://hooks.example.com/v1/events?k=v"
    assert record.sent_to.startswith("http://127.0.0.1:") and record.status == 200


def test_request_builder_and_response_methods(load: Any, server: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        return Response(json.dumps({
            "form": dict(request.form), "auth": request.headers.get("Authorization"),
            "x": request.headers.get("X-A"), "ct": request.headers.get("Content-Type"),
        }), status=404)

    server.expect_request("/f").respond_with_handler(handler)
    p = load("""
        kumo.on('t', function(url)
          local client = kumo.http.build_client {}
          local r = client:put(url):headers { ['X-A'] = '1' }:bearer_auth('tok')
            :form_url_encoded { a = 'b c' }:timeout(3):send()
          local text = r:text()
          local ok, err = pcall(r.text, r)
          return r:status_code(), r:status_is_client_error(), text, ok, err,
            kumo.http.build_url('http://x.example/p?z=1', { q = 'a b' })
        end)
    """, network=True)
    code, client_error, text, ok, err, url = p.dispatch("t", server.url_for("/f")).values
    assert code == 404 and client_error is True
    body = json.loads(text)
    assert body == {"form": {"a": "b c"}, "auth": "Bearer tok", "x": "1",
                    "ct": "application/x-www-form-urlencoded"}
    assert ok is False and "broken response wrapper" in err
    assert url == "http://x.example/p?z=1&q=a+b"


def test_a_refused_connection_is_a_lua_error(load: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = load(WEBHOOK, network=True)
    with pytest.raises(PolicyError, match=r"error sending request for url"):
        p.dispatch("t", f"http://127.0.0.1:{port}/x", "{}")


def test_the_kumo_http_fixture(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lua", init=WEBHOOK.replace("'t'", "'send_hook'"))
    pytester.makepyfile(test_hook="""
        def test_hook(kumo_policy, kumo_http):
            kumo_http.expect_request("/hooks/abc").respond_with_data("accepted", status=202)
            policy = kumo_policy("init.lua")
            code, ok, text = policy.dispatch(
                "send_hook", "https://hooks.example.net/hooks/abc", '{"x": 1}').values[:3]
            assert (code, ok, text) == (202, True, "accepted")
            (request, _), = kumo_http.log
            assert request.get_data() == b'{"x": 1}'
            assert policy.http_requests[0].url == "https://hooks.example.net/hooks/abc"
    """)
    result = pytester.runpytest_inprocess("-p", "kumopy.testing.plugin", "-q")
    result.assert_outcomes(passed=1)


def test_the_kumo_network_ini_option(pytester: pytest.Pytester, server: HTTPServer) -> None:
    server.expect_request("/n").respond_with_data("net")
    pytester.makefile(".lua", init=WEBHOOK)
    pytester.makeini("[pytest]\nkumo_network = true\n")
    pytester.makepyfile(test_net=f"""
        def test_net(kumo_policy):
            policy = kumo_policy("init.lua")
            assert policy.dispatch("t", "{server.url_for('/n')}", "{{}}").values[2] == "net"
    """)
    result = pytester.runpytest_inprocess("-p", "kumopy.testing.plugin", "-q")
    result.assert_outcomes(passed=1)


def test_http_from_the_cli(tmp_path: Path, server: HTTPServer) -> None:
    server.expect_request("/cli").respond_with_data("from-cli")
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function(url)\n"
        "  print(kumo.http.build_client{}:get(url):send():text())\nend)\n"
    )
    offline = CliRunner().invoke(cli, ["script", str(policy), server.url_for("/cli")])
    assert offline.exit_code == 1 and "--network" in offline.output
    online = CliRunner().invoke(cli, ["script", "--network", str(policy), server.url_for("/cli")])
    assert online.exit_code == 0, online.output
    assert "from-cli" in online.output

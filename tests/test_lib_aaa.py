"""kumo.aaa: ACLs, the get_acl_definition event and kumod's default ACL."""

from __future__ import annotations

import pytest

from kumopy import FakeClock, PolicyError
from kumopy._kumo.aaa import http_resources

TRUSTED = {"groups": ["kumomta:http-listener-trusted-ip"]}

QUERY = """
kumo.on('q', function(url, info, priv)
  local r = kumo.aaa.query_resource_access(
    kumo.aaa.make_http_url_resource('127.0.0.1:8000', url), info, priv)
  return r.allow, r.resource, r.rule
end)
"""


def test_candidate_resources() -> None:
    assert http_resources("127.0.0.1:8080", "/foo/bar") == [
        "http_listener/127.0.0.1:8080/foo/bar",
        "http_listener/127.0.0.1:8080/foo",
        "http_listener/127.0.0.1:8080",
        "http_listener/*/foo/bar",
        "http_listener/*/foo",
        "http_listener",
    ]
    assert len(http_resources("[::1]:1", "/" + "/".join("abcdefghijklmn"))) == 10 + 1 + 10 + 1


def test_default_acl_without_handlers(load) -> None:
    p = load(QUERY)
    assert p.dispatch("q", "http://x/api/admin/bounce/v1", TRUSTED, "POST").values == (
        True, "http_listener/*/api/admin",
        {"criteria": {"Identity": {"Group": "kumomta:http-listener-trusted-ip"}},
         "privilege": "POST", "access": "Allow"})
    assert p.dispatch("q", "http://x/api/admin", {}, "GET").values == (False, None, None)
    allow, resource, rule = p.dispatch("q", "http://x/api/check-liveness/v1", {}, "GET").values
    assert (allow, resource, rule["criteria"]) == (True, "http_listener/*/api/check-liveness",
                                                   {"Identity": "Any"})
    authed = {"identities": [{"identity": "bob", "context": "HttpBasicAuth"}]}
    assert p.dispatch("q", "http://x/api/inject/v1", authed, "POST").value is True
    assert p.dispatch("q", "http://x/api/inject/v1", {}, "POST").value is False


def test_handler_rules_criteria_and_fallback(load) -> None:
    p = load(
        QUERY + """
        kumo.on('get_acl_definition', function(resource)
          if resource == 'http_listener/127.0.0.1:8000/api/admin' then
            return kumo.aaa.make_access_control_list {
              { criteria = { Identity = { Individual = 'eve' } }, privilege = 'GET', access = 'Deny' },
              { criteria = { AllOf = { { Identity = { MachineSet = { '10.0.0.0/8' } } },
                                       { Not = { Identity = 'Unauthenticated' } } } },
                privilege = 'GET', access = 'Allow' },
            }
          end
          return nil  -- (returning nothing would count as "no handler" in kumod)
        end)
        kumo.on('nofallback', function() kumo.aaa.set_fall_back_to_acl_map(false) end)
        """
    )
    eve = {"identities": [{"identity": "eve", "context": "BearerToken"}], "peer_address": "10.1.1.1"}
    bob = {"identities": [{"identity": "bob", "context": "BearerToken"}], "peer_address": "10.1.1.1"}
    allow, resource, rule = p.dispatch("q", "http://x/api/admin", eve, "GET").values
    assert (allow, resource, rule["access"]) == (False, "http_listener/127.0.0.1:8000/api/admin", "Deny")
    allow, _, rule = p.dispatch("q", "http://x/api/admin", bob, "GET").values
    assert allow is True and rule["criteria"]["AllOf"][0] == {"Identity": {"MachineSet": ["10.0.0.0/8"]}}
    # the handler has nothing for metrics: kumod's default ACL still answers
    assert p.dispatch("q", "http://x/metrics", TRUSTED, "GET").value is True
    p.dispatch("nofallback")
    p.clock.advance(1)  # past the 300ms caches
    assert p.dispatch("q", "http://x/metrics", TRUSTED, "GET").value is False


def test_answers_are_cached_on_the_policy_clock(load, clock: FakeClock) -> None:
    p = load(
        QUERY + """
        calls = 0
        kumo.on('get_acl_definition', function(resource) calls = calls + 1 end)
        kumo.on('calls', function() return calls end)
        """,
        clock=clock,
    )
    p.dispatch("q", "http://x/a", {}, "GET")
    first = p.dispatch("calls").value
    assert first == len(http_resources("127.0.0.1:8000", "/a"))
    p.dispatch("q", "http://x/a", {}, "GET")
    assert p.dispatch("calls").value == first
    clock.advance(0.5)
    p.dispatch("q", "http://x/a", {}, "GET")
    assert p.dispatch("calls").value == 2 * first


def test_load_acl_map_and_memoize(load) -> None:
    p = load(
        QUERY + """
        local get = kumo.memoize(function()
          return kumo.aaa.load_acl_map { key_data = [=[
        [[acl."http_listener/*/x"]]
        allow = false
        privileges = ["GET", "POST"]
        criteria.AnyOf = [{Identity={Machine="192.0.2.1"}}, {Identity={Group="g"}}]
        ]=] }
        end, { name = 'acl', ttl = '1m', capacity = 2 })
        kumo.on('get_acl_definition', function(resource) return get():get(resource) end)
        kumo.on('bad', function(text) return kumo.aaa.load_acl_map { key_data = text } end)
        """
    )
    allow, resource, rule = p.dispatch("q", "http://x/x", {"peer_address": "192.0.2.1"}, "POST").values
    assert (allow, resource, rule["access"]) == (False, "http_listener/*/x", "Deny")
    with pytest.raises(PolicyError, match="failed to parse acl map data"):
        p.dispatch("bad", "[[acl.x]]\nallow = 1\nprivileges = []\nidentity.Any = {}\n")
    with pytest.raises(PolicyError, match="failed to parse acl map data: unknown variant `Everyone`"):
        p.dispatch("bad", '[[acl.x]]\nallow = true\nprivileges = []\nidentity.Everyone = {}\n')


def test_bad_arguments(load) -> None:
    p = load(
        QUERY + """
        kumo.on('list', function(rules) return kumo.aaa.make_access_control_list(rules) end)
        kumo.on('res', function(addr) return kumo.aaa.make_http_url_resource(addr, 'http://x/') end)
        kumo.on('get_acl_definition', function(resource) return 'nope' end)
        """
    )
    with pytest.raises(PolicyError, match="unknown variant `Maybe`, expected `Allow` or `Deny`"):
        p.dispatch("list", [{"criteria": {"Identity": "Any"}, "privilege": "GET", "access": "Maybe"}])
    with pytest.raises(PolicyError, match="missing field `privilege`"):
        p.dispatch("list", [{"criteria": {"Identity": "Any"}, "access": "Allow"}])
    with pytest.raises(PolicyError, match="invalid socket address syntax"):
        p.dispatch("res", "localhost")
    with pytest.raises(PolicyError, match="get_acl_definition: error converting Lua"):
        p.dispatch("q", "http://x/", {}, "GET")


def test_return_nil_decides_but_returning_nothing_passes_the_turn(load) -> None:
    p = load(
        QUERY + """
        kumo.on('get_acl_definition', function(resource)
          if resource == 'http_listener/127.0.0.1:8000/metrics' then return nil end
        end)
        kumo.on('get_acl_definition', function(resource)
          return kumo.aaa.make_access_control_list {
            { criteria = { Identity = 'Any' }, privilege = 'GET', access = 'Allow' } }
        end)
        """
    )
    # the first handler's nil decided the first candidate (the second handler
    # was not asked); the next candidate went on to the second handler
    assert p.dispatch("q", "http://x/metrics", {}, "GET").values[:2] == (
        True, "http_listener/127.0.0.1:8000")
    assert p.dispatch("q", "http://x/other", {}, "GET").values[:2] == (
        True, "http_listener/127.0.0.1:8000/other")


def test_configure_acct_log_is_checked_and_recorded(load) -> None:
    p = load(
        """
        kumo.on('t', function(params) kumo.aaa.configure_acct_log(params) end)
        """
    )
    with pytest.raises(PolicyError, match="missing field `log_dir`"):
        p.call("t", {})
    with pytest.raises(PolicyError, match="unknown field `bogus`"):
        p.call("t", {"log_dir": "/var/log/kumo/acct", "bogus": 1})
    p.call("t", {"log_dir": "/var/log/kumo/acct", "max_segment_duration": "5m"})
    (entry,) = [e for e in p.server_config.logs if e["kind"] == "acct"]
    assert entry["params"]["log_dir"] == "/var/log/kumo/acct"
    assert entry["params"]["max_segment_duration"] == "5m"
    assert entry["params"]["log_authz_allow"] is True
    with pytest.raises(PolicyError, match="must not be called more than once"):
        p.call("t", {"log_dir": "/x"})

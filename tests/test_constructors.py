"""kumo.make_queue_config / make_egress_path / make_egress_source /
make_egress_pool / make_listener_domain: kumod's fields, defaults, enum
values and serde error text, and the userdata they return."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kumopy import Policy, PolicyError


def _eval(load: Any, body: str) -> Any:
    """Run `body` (a Lua chunk that returns a value) in a fresh policy."""
    policy = load("local kumo = require 'kumo'\nkumo.on('t', function()\n" + body + "\nend)\n")
    return policy.call("t")


def _error(load: Any, ctor: str, table: str) -> str:
    """The error message of kumo.<ctor>(<table>), through pcall."""
    ok, err = _eval(load, f"local ok, err = pcall(kumo.{ctor}, {table})\nreturn {{ok, err}}")
    assert ok is False
    return str(err)


# -- defaults ----------------------------------------------------------------


def test_queue_config_defaults(load):
    data = json.loads(_eval(load, "return kumo.json_encode(kumo.make_queue_config {})"))
    assert data == {
        "egress_pool": None,
        "max_age": "7days",
        "max_message_rate": None,
        "max_retry_interval": None,
        "protocol": {"smtp": {"mx_list": {}, "treat_mx_list_as_secure": False}},
        "provider_name": None,
        "reap_interval": "10m",
        "refresh_interval": "1m",
        "refresh_strategy": "Ttl",
        "retry_interval": "20m",
        "shrink_policy": {},
        "strategy": "SingletonTimerWheel",
        "timerwheel_tick_interval": None,
    }


def test_egress_path_defaults_match_spec(load):
    data = json.loads(_eval(load, "return kumo.json_encode(kumo.make_egress_path {})"))
    expected = {
        "connection_limit": {"force_local": False, "limit": 32},
        "enable_tls": "Opportunistic",
        "enable_mta_sts": True,
        "enable_dane": False,
        "enable_pipelining": True,
        "enable_rset": True,
        "max_ready": 1024,
        "consecutive_connection_failures_before_delay": 100,
        "smtp_port": 25,
        "max_deliveries_per_connection": 1024,
        "max_recipients_per_batch": 100,
        # kumod's CidrSet merges ::1 and :: into ::/127
        "prohibited_hosts": ["0.0.0.0", "127.0.0.0/8", "::/127"],
        "refresh_interval": "1m",
        "refresh_strategy": "Ttl",
        "connect_timeout": "1m",
        "banner_timeout": "1m",
        "ehlo_timeout": "5m",
        "mail_from_timeout": "5m",
        "rcpt_to_timeout": "5m",
        "data_timeout": "5m",
        "data_dot_timeout": "5m",
        "rset_timeout": "5s",
        "idle_timeout": "5s",
        "starttls_timeout": "5s",
        "auth_timeout": "1m",
        "max_message_rate": None,
        "ehlo_domain": None,
    }
    for key, value in expected.items():
        assert data[key] == value, key
    # skip_serializing fields are accepted but never shown
    assert "openssl_options" not in data and "rustls_cipher_suites" not in data
    assert list(data) == sorted(data)


def test_listener_domain_defaults_and_legacy_booleans(load):
    data = json.loads(
        _eval(
            load,
            "return kumo.json_encode(kumo.make_listener_domain "
            "{ log_oob = true, log_arf = 'LogThenDrop', relay_from = {'10.0.0.0/8', '127.0.0.1'} })",
        )
    )
    assert data == {
        "log_arf": "LogThenDrop",
        "log_oob": "LogThenRelay",
        "relay_from": ["10.0.0.0/8", "127.0.0.1"],
        "relay_to": False,
        "ttl": "1m",
    }


# -- the userdata ----------------------------------------------------------------


def test_config_objects_index_pairs_and_null_sentinel(load):
    result = _eval(
        load,
        """
        local q = kumo.make_queue_config { retry_interval = 90, max_message_rate = '10/s' }
        local keys = {}
        for k in pairs(q) do table.insert(keys, k) end
        return {
          type(q), q.retry_interval, q.max_message_rate, type(q.egress_pool),
          q.egress_pool and 'truthy' or 'falsy', q.no_such_field == nil, table.concat(keys, ','),
        }
        """,
    )
    assert result[:6] == ["userdata", "1m 30s", "10/s", "userdata", "truthy", True]
    assert result[6].split(",") == sorted(result[6].split(","))
    assert "retry_interval" in result[6]


def test_source_and_pool_cannot_be_indexed(load):
    result = _eval(
        load,
        """
        local s = kumo.make_egress_source { name = 'ip-1', source_address = '10.0.0.1' }
        local p = kumo.make_egress_pool { name = 'pool', entries = { { name = 'ip-1' } } }
        local ok, err = pcall(function() return s.name end)
        return { type(s), type(p), ok, tostring(err) }
        """,
    )
    assert result[0] == "userdata" and result[1] == "userdata"
    assert result[2] is False
    assert "attempt to index a userdata value" in result[3]


def test_memoized_tables_are_materialised(load):
    value = _eval(
        load,
        """
        local get = kumo.memoize(function() return { egress_pool = 'p1' } end,
                                 { name = 'c', ttl = '1m', capacity = 4 })
        return kumo.make_queue_config(get()).egress_pool
        """,
    )
    assert value == "p1"


# -- errors: unknown field, wrong type, bad duration, for every constructor --------------

UNKNOWN = {
    "make_queue_config": "unknown field `bogus`, expected one of `retry_interval`, "
    "`max_retry_interval`, `max_age`, `egress_pool`, `max_message_rate`, `protocol`, "
    "`reap_interval`, `refresh_interval`, `timerwheel_tick_interval`, `strategy`, "
    "`refresh_strategy`, `provider_name`, `shrink_policy`",
    # EgressPathConfig flattens its timeouts: serde gives no list
    "make_egress_path": "unknown field `bogus`",
    "make_egress_source": "unknown field `bogus`, expected one of `name`, `ehlo_domain`, "
    "`source_address`, `remote_port`, `ha_proxy_server`, `ha_proxy_source_address`, "
    "`socks5_proxy_server`, `socks5_proxy_source_address`, `socks5_proxy_username`, "
    "`socks5_proxy_password`, `suspend_when_unplumbed`, `suspend_when_proxy_unhealthy`, `ttl`",
    "make_egress_pool": "unknown field `bogus`, expected one of `name`, `entries`, `ttl`",
    "make_listener_domain": "unknown field `bogus`, expected one of `log_oob`, `log_arf`, "
    "`relay_to`, `relay_from`, `ttl`",
}

BASE = {
    "make_queue_config": "",
    "make_egress_path": "",
    "make_egress_source": "name = 'ip-1', ",
    "make_egress_pool": "name = 'pool', ",
    "make_listener_domain": "",
}

WRONG_TYPE = {
    "make_queue_config": ("egress_pool = 5", "invalid type: integer `5`, expected a string"),
    "make_egress_path": ("enable_dane = 'yes'", 'invalid type: string "yes", expected a boolean'),
    "make_egress_source": ("remote_port = 'x'", 'invalid type: string "x", expected u16'),
    # mlua's deserialize_seq on a non-table
    "make_egress_pool": ("entries = 'x'", "invalid type: string, expected table"),
    "make_listener_domain": ("relay_to = 1", "invalid type: integer `1`, expected a boolean"),
}

DURATION_FIELD = {
    "make_queue_config": "max_age",
    "make_egress_path": "connect_timeout",
    "make_egress_source": "ttl",
    "make_egress_pool": "ttl",
    "make_listener_domain": "ttl",
}


def _while_processing(text: str) -> str:
    return text.split(", while processing ", 1)[1]


@pytest.mark.parametrize("ctor", list(UNKNOWN))
def test_unknown_field_error(load, ctor):
    err = _error(load, ctor, f"{{ {BASE[ctor]}bogus = 1 }}")
    assert err.startswith(f"deserialize error: {UNKNOWN[ctor]}, while processing {{")
    assert json.loads(_while_processing(err))["bogus"] == 1


@pytest.mark.parametrize("ctor", list(WRONG_TYPE))
def test_wrong_type_error(load, ctor):
    assignment, message = WRONG_TYPE[ctor]
    err = _error(load, ctor, f"{{ {BASE[ctor]}{assignment} }}")
    assert err.startswith(f"deserialize error: {message}, while processing {{"), err


@pytest.mark.parametrize("ctor", list(DURATION_FIELD))
def test_bad_duration_error(load, ctor):
    field = DURATION_FIELD[ctor]
    err = _error(load, ctor, f"{{ {BASE[ctor]}{field} = '5 parsecs' }}")
    assert err.startswith(
        'deserialize error: invalid value: string "5 parsecs", expected a duration, '
        "while processing {"
    ), err
    assert json.loads(_while_processing(err))[field] == "5 parsecs"


def test_missing_required_field(load):
    err = _error(load, "make_egress_source", "{ ttl = 5 }")
    assert err == 'deserialize error: missing field `name`, while processing {"ttl":5}'


def test_enum_values(load):
    err = _error(load, "make_egress_path", "{ enable_tls = 'Sometimes' }")
    assert err.startswith(
        "deserialize error: unknown variant `Sometimes`, expected one of `Opportunistic`, "
        "`OpportunisticInsecure`, `Required`, `RequiredInsecure`, `Disabled`"
    )
    assert _eval(load, "return kumo.make_egress_path { enable_tls = 'Required' }.enable_tls") == (
        "Required"
    )


def test_listener_domain_disposition_error(load):
    err = _error(load, "make_listener_domain", "{ log_oob = 'yes' }")
    assert err == (
        'deserialize error: invalid value: string "yes", expected a boolean value or one of '
        "'Ignore', 'LogThenDrop' or 'LogThenRelay', while processing {\"log_oob\":\"yes\"}"
    )


def test_throttle_spec_and_protocol_variants(load):
    err = _error(load, "make_queue_config", "{ max_message_rate = '0/s' }")
    assert "invalid ThrottleSpec `0/s`: limit must be greater than 0!" in err
    err = _error(load, "make_queue_config", "{ protocol = { smtpp = {} } }")
    assert "data did not match any variant of untagged enum DeliveryProto" in err
    data = json.loads(
        _eval(
            load,
            "return kumo.json_encode(kumo.make_queue_config "
            "{ protocol = { custom_lua = { constructor = 'make.hook' } }, "
            "max_message_rate = '3600/h,max_burst=5' })",
        )
    )
    assert data["protocol"] == {
        "custom_lua": {
            "batch_size": 1,
            "constructor": "make.hook",
            "max_batch_latency": "0s",
            "min_batch_size": 1,
        }
    }
    assert data["max_message_rate"] == "3600/h,max_burst=5"


def test_socks5_hostname_error_mentions_invalid_hostname(load):
    err = _error(
        load, "make_egress_source", "{ name = 'ip', socks5_proxy_server = 'not valid:5000' }"
    )
    assert 'invalid hostname "not valid": unrecognized char:  )' in err


def test_non_table_argument(load):
    # mlua's deserialize_struct on a non-table names the Lua type only
    err = _error(load, "make_queue_config", "'x'")
    assert err == 'deserialize error: invalid type: string, expected table, while processing "x"'
    err = _error(load, "make_queue_config", "nil")
    assert err == "deserialize error: invalid type: nil, expected table, while processing null"


def test_lua_table_shapes(load):
    # a list where a struct is expected: the integer key is not a field name
    err = _error(load, "make_queue_config", "{ 1, 2 }")
    assert err.startswith("deserialize error: invalid type: integer `1`, expected field identifier")
    # a map-shaped table where a list is expected: mlua reads its sequence part (none)
    value = _eval(
        load,
        "return #kumo.make_queue_config { shrink_policy = { a = 1 } }.shrink_policy",
    )
    assert value == 0
    err = _error(load, "make_egress_path", "{ enable_tls = { Required = true } }")
    assert "invalid type: newtype variant, expected unit variant" in err


# -- events that return them -------------------------------------------------------


POLICY = """
local kumo = require 'kumo'
kumo.on('get_queue_config', function(domain, tenant, campaign, routing_domain)
  return kumo.make_queue_config {
    egress_pool = table.concat({domain, tenant or '-', campaign or '-', routing_domain or '-'}, '/'),
  }
end)
kumo.on('get_egress_path_config', function(domain, source, site)
  return kumo.make_egress_path { ehlo_domain = source .. '@' .. site, connection_limit = 'local:5' }
end)
kumo.on('get_egress_source', function(name)
  return kumo.make_egress_source { name = name, source_address = '10.0.0.1' }
end)
kumo.on('get_egress_pool', function(name)
  return kumo.make_egress_pool { name = name, entries = { { name = 'ip-1', weight = 3 } } }
end)
kumo.on('get_listener_domain', function(domain, listener, conn_meta)
  if domain == 'relay.example' then
    return kumo.make_listener_domain { relay_to = true }
  end
end)
kumo.on('t', function(q) return kumo.invoke_get_queue_config(q).egress_pool end)
"""


def test_policy_resolves_with_kumod_arguments(load):
    policy: Policy = load(POLICY)
    assert policy.resolve_queue_config("camp:ten@example.com!route.example")["egress_pool"] == (
        "example.com/ten/camp/route.example"
    )
    assert policy.resolve_queue_config("example.com")["egress_pool"] == "example.com/-/-/-"
    assert policy.call("t", "c:@d") == "d//c/-"  # tenant "" as kumod's parser gives
    path = policy.resolve_egress_path("example.com", "ip-1", "mx.example")
    assert path["ehlo_domain"] == "ip-1@mx.example"
    assert path["connection_limit"] == {"force_local": True, "limit": 5}
    assert policy.resolve_egress_source("ip-1")["source_address"] == "10.0.0.1"
    assert policy.resolve_egress_pool("pool")["entries"] == [{"name": "ip-1", "weight": 3}]
    assert policy.listener_domain("relay.example")["relay_to"] is True
    assert policy.listener_domain("other.example") is None


def test_builtin_queues_and_defaults_without_handlers(load):
    policy: Policy = load("local kumo = require 'kumo'\n")
    null = policy.resolve_queue_config("null")
    assert null["retry_interval"] == "10s" and null["protocol"] is None
    assert null["max_retry_interval"] == "10s"
    assert policy.resolve_queue_config("generator.kumomta.internal")["retry_interval"] == "10s"
    deferred = policy.resolve_queue_config("deferred_smtp_inject.kumomta.internal")
    assert deferred["retry_interval"] == "1m" and deferred["protocol"] is None
    xfer = policy.resolve_queue_config("http://10.0.0.2:8000.xfer.kumomta.internal")
    assert xfer["protocol"] == {"xfer": {"target": "http://10.0.0.2:8000/"}}
    assert xfer["retry_interval"] == "10s"
    assert policy.resolve_queue_config("example.com")["retry_interval"] == "20m"
    assert policy.resolve_egress_path("example.com")["connection_limit"]["limit"] == 32
    assert policy.resolve_egress_source("unspecified")["name"] == "unspecified"
    assert policy.listener_domain("example.com") is None
    with pytest.raises(PolicyError, match="get_egress_source 'ip-1'"):
        policy.resolve_egress_source("ip-1")


def test_handler_must_return_the_userdata(load):
    policy: Policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('get_queue_config', function() return { egress_pool = 'x' } end)\n"
        "kumo.on('get_egress_path_config', function() return kumo.make_queue_config {} end)\n"
    )
    with pytest.raises(PolicyError, match="error converting Lua table to QueueConfig"):
        policy.resolve_queue_config("example.com")
    with pytest.raises(PolicyError, match="userdata is not expected type"):
        policy.resolve_egress_path("example.com")


def test_get_queue_config_chain_continues_on_no_value(load):
    policy: Policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('get_queue_config', function(domain) if domain == 'a.example' then\n"
        "  return kumo.make_queue_config { egress_pool = 'first' } end end)\n"
        "kumo.on('get_queue_config', function() return kumo.make_queue_config { egress_pool = 'second' } end)\n"
    )
    assert policy.resolve_queue_config("a.example")["egress_pool"] == "first"
    assert policy.resolve_queue_config("b.example")["egress_pool"] == "second"


def test_format_toml_round_trips_invoke_results(load):
    text = _eval(
        load,
        """
        local path = kumo.invoke_get_egress_path_config('example.com', 'src', 'site')
        local queue = kumo.make_queue_config { egress_pool = 'p' }
        return kumo.format_egress_path_config_toml(path) .. '\\n#--\\n' ..
          kumo.format_queue_config_toml(queue)
        """,
    )
    import tomllib

    path_text, queue_text = text.split("\n#--\n")
    path = tomllib.loads(path_text)
    assert path["connection_limit"] == {"force_local": False, "limit": 32}
    assert "ehlo_domain" not in path  # unset fields are left out
    assert tomllib.loads(queue_text)["egress_pool"] == "p"
    err = _error(load, "format_queue_config_toml", "{ bogus = 1 }")
    assert err.startswith("deserialize error: unknown field `bogus`")


def test_source_and_pool_resolution_errors(load):
    policy: Policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('get_egress_pool', function(name)\n"
        "  return kumo.make_egress_pool { name = name, entries = { { name = 'ip-9' } } }\n"
        "end)\n"
    )
    with pytest.raises(PolicyError) as info:
        policy.resolve_egress_pool("p")
    assert str(info.value).startswith(
        "resolving egress pool 'p': get_egress_source 'ip-9': "
        "Event get_egress_source has not been registered"
    )
    # the built-in pool needs no handler
    assert policy.resolve_egress_pool(None)["entries"] == [{"name": "unspecified", "weight": 1}]

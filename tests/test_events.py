"""kumo.on registration and dispatch follow kumod's rules."""

from __future__ import annotations

import pytest

from kumopy import PolicyError, UnknownEventError
from kumopy._events import EVENTS, MULTIPLE_EVENTS, suggest_event

MULTIPLE = {
    "pre_init",
    "validate_config",
    "get_queue_config",
    "throttle_insert_ready_queue",
    "requeue_message",
    "should_enqueue_log_record",
    "get_acl_definition",
}


def test_exactly_seven_multiple_events():
    assert MULTIPLE_EVENTS == MULTIPLE


def test_catalogue_has_documented_events_plus_main_and_validate_config():
    documented = [name for name, spec in EVENTS.items() if spec.documented]
    assert len(documented) == 33
    assert {"main", "validate_config", "smtp_client_rewrite_delivery_status"} <= set(EVENTS)


@pytest.mark.parametrize("event", sorted(set(EVENTS) - MULTIPLE) + ["my_custom_event"])
def test_second_registration_of_single_event_names_first_handler(load, event):
    with pytest.raises(PolicyError) as info:
        load(
            f"""
            kumo.on('{event}', function() end)
            kumo.on('{event}', function() end)
            """
        )
    msg = str(info.value)
    assert f"{event} event already has a handler defined at " in msg
    assert msg.rstrip().endswith("init.lua:1") or "init.lua:1" in msg
    assert info.value.line == 2  # the error is raised at the second kumo.on


@pytest.mark.parametrize("event", sorted(MULTIPLE))
def test_multiple_events_accumulate_in_order(load, event):
    p = load(
        f"""
        kumo.on('{event}', function() return 'a' end)
        kumo.on('{event}', function() return 'b' end)
        """
    )
    assert [h.line for h in p.handlers(event)] == [1, 2]
    assert p.call(event) == "a"


def test_bare_return_passes_on_and_return_nil_stops(load):
    p = load(
        """
        kumo.on('get_queue_config', function(domain)
          if domain == 'bare' then return end
          if domain == 'nil' then return nil end
          -- falling off the end is also "no value"
        end)
        kumo.on('get_queue_config', function(domain) return 'second:' .. domain end)
        """
    )
    assert p.call("get_queue_config", "bare") == "second:bare"
    assert p.call("get_queue_config", "other") == "second:other"
    stopped = p.dispatch("get_queue_config", "nil")
    assert stopped.handled and stopped.values == (None,) and stopped.handler.line == 1


def test_no_value_from_every_handler_is_unhandled(load):
    p = load(
        """
        kumo.on('requeue_message', function() end)
        kumo.on('requeue_message', function() return end)
        """
    )
    result = p.dispatch("requeue_message")
    assert not result.handled and result.value is None


def test_unregistered_event_is_unhandled(load):
    p = load("")
    result = p.dispatch("smtp_client_rewrite_delivery_status", "550 x", "d", None, None, "d")
    assert not result.handled and p.call("init") is None


def test_single_event_returning_nothing_is_handled_with_nil(load):
    p = load("kumo.on('init', function() end)")
    result = p.dispatch("init")
    assert result.handled and result.values == ()


def test_multiple_values_are_returned(load):
    p = load("kumo.on('smtp_server_rewrite_response', function(s, r) return s + 1, r .. '!' end)")
    assert p.dispatch("smtp_server_rewrite_response", 250, "ok", None, None).values == (251, "ok!")


def test_kumo_on_inside_handler_is_an_error(load):
    p = load(
        """
        kumo.on('smtp_server_message_received', function()
          kumo.on('get_queue_config', function() end)
        end)
        """
    )
    with pytest.raises(PolicyError) as info:
        p.call("smtp_server_message_received")
    msg = str(info.value)
    assert "kumo.on('get_queue_config', ...)" in msg
    assert "'smtp_server_message_received'" in msg
    assert info.value.line == 2


def test_kumo_on_inside_main_is_allowed(load):
    p = load(
        """
        kumo.on('main', function()
          kumo.on('late_event', function() return 'registered in main' end)
        end)
        """
    )
    p.call("main")
    assert p.call("late_event") == "registered in main"


def test_current_event_is_sticky_per_state(load):
    # kumod sets _KUMO_CURRENT_EVENT and never clears it, so after any
    # event a lazy kumo.on in the same state fails
    p = load(
        """
        kumo.on('first', function() return _KUMO_CURRENT_EVENT end)
        kumo.on('second', function() kumo.on('x', function() end) end)
        """
    )
    assert p.call("first") == "first"
    with pytest.raises(PolicyError, match="kumo.on\\('x'"):
        p.call("second")


def test_kumo_on_rejects_non_function(load):
    with pytest.raises(PolicyError, match="error converting Lua nil to function"):
        load("kumo.on('init', nil)")


def test_event_name_numbers_coerce_to_strings(load):
    p = load("kumo.on(42, function() return 'answer' end)")
    assert p.call("42") == "answer"


def test_event_name_must_be_a_string(load):
    with pytest.raises(PolicyError, match="error converting Lua table to String"):
        load("kumo.on({}, function() end)")


def test_handler_location_and_registrars(load):
    p = load(
        """
        local function setup()
          kumo.on('init', function() end)
        end
        setup()
        kumo.on('get_queue_config', function() end)
        kumo.on('t', function() return kumo.get_event_registrars('init') end)
        """
    )
    (h,) = p.handlers("init")
    assert h.source.endswith("init.lua") and h.line == 2
    stacks = p.call("t")
    assert stacks[0][0].endswith("init.lua:2") and stacks[0][1].endswith("init.lua:4")


def test_handlers_of_unknown_event_is_empty(load):
    assert load("").handlers("nothing") == []


def test_did_you_mean():
    assert suggest_event("smtp_client_rewrite_delivery_stat") == "smtp_client_rewrite_delivery_status"
    assert suggest_event("zzz") is None


def test_state_is_dropped_after_a_handler_error(load):
    # kumod does not reuse a state whose event raised; the next event runs
    # in a fresh state that re-ran the policy's top level
    p = load(
        """
        loads = (loads or 0) + 1
        kumo.on('boom', function() error('x') end)
        kumo.on('count', function() return loads end)
        """
    )
    first = p.state
    with pytest.raises(PolicyError):
        p.call("boom")
    assert p.state is not first
    assert p.call("count") == 1


def test_fresh_state_per_event_exposes_global_reliance(load):
    source = """
        kumo.on('smtp_server_mail_from', function(sender) last_sender = sender end)
        kumo.on('smtp_server_rcpt_to', function() return last_sender end)
    """
    pooled = load(source)
    pooled.call("smtp_server_mail_from", "a@example.com")
    assert pooled.call("smtp_server_rcpt_to") == "a@example.com"
    fresh = load(source, name="fresh.lua", fresh_state_per_event=True)
    fresh.call("smtp_server_mail_from", "a@example.com")
    assert fresh.call("smtp_server_rcpt_to") is None


def test_python_values_convert_to_lua_and_back(load):
    p = load(
        """
        kumo.on('t', function(v)
          return v.name, v.list[2], #v.list, math.type(v.n), math.type(v.f), getmetatable(v.list)
        end)
        kumo.on('table', function() return {a = 1, b = {1, 2, 3}, c = {}} end)
        """
    )
    assert p.dispatch("t", {"name": "x", "list": [1, 2, 3], "n": 1, "f": 1.5}).values == (
        "x", 2, 3, "integer", "float", False)
    assert p.call("table") == {"a": 1, "b": [1, 2, 3], "c": {}}


# --------------------------------------------------------------------------
# Unknown events: an error wherever a user names one
# --------------------------------------------------------------------------


def test_a_misspelt_event_is_an_error_not_none(load):
    p = load("kumo.on('smtp_client_rewrite_delivery_status', function() return 550 end)")
    with pytest.raises(UnknownEventError) as info:
        p.call("smtp_client_rewrite_delivery_stats", "450 x", "d", None, None, "d")
    e = info.value
    assert e.event == "smtp_client_rewrite_delivery_stats"
    assert e.suggestion == "smtp_client_rewrite_delivery_status"
    assert str(e) == (
        "'smtp_client_rewrite_delivery_stats' is not an event KumoMTA fires and the policy "
        "registers no handler for it (did you mean 'smtp_client_rewrite_delivery_status'?)"
    )
    with pytest.raises(UnknownEventError):
        p.dispatch("nonsense")
    assert isinstance(info.value, LookupError) and not isinstance(info.value, PolicyError)


def test_custom_events_the_policy_registers_are_fired(load):
    p = load("kumo.on('my_task', function(x) return x * 2 end)")
    assert p.call("my_task", 21) == 42


def test_the_suggestion_includes_the_policys_own_events(load):
    p = load("kumo.on('refresh_tenant_cache', function() end)")
    with pytest.raises(UnknownEventError) as info:
        p.call("refresh_tenant_cach")
    assert info.value.suggestion == "refresh_tenant_cache"
    with pytest.raises(UnknownEventError) as info:
        p.call("zzz")
    assert info.value.suggestion is None
    assert str(info.value).endswith("registers no handler for it")


@pytest.mark.parametrize("event", ["get_queue_config", "log_disposition_webhook", "main"])
def test_known_events_without_handler_are_unhandled_not_errors(load, event):
    result = load("").dispatch(event)
    assert not result.handled and result.value is None


def test_an_unknown_event_does_not_count_as_dispatched(load):
    # kumo.on is an error once an event has run in the state; a refused
    # name never ran, so a lazy registration still works afterwards
    p = load("kumo.on('main', function() end)")
    with pytest.raises(UnknownEventError):
        p.dispatch("nope")
    p.state.rt.execute("require('kumo').on('later', function() return 1 end)")
    assert p.call("later") == 1

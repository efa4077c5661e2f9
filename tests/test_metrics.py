"""`kumo.prometheus_metrics()`, the lruttl caches and the DKIM cache
counters (kumod: kumo-prometheus registry.rs, lruttl, message/dkim.rs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kumopy import FakeClock, PolicyError
from kumopy._kumo.metrics import LruTtlCache, Registry, registry

KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ3dj4Zq5HbXhh9Z0XtSjGSB3ZDGF4AyFbLeQKE2A6UF
-----END PRIVATE KEY-----
"""


def _policy(load: Any, tmp_path: Path, body: str) -> Any:
    (tmp_path / "k.pem").write_text(KEY)
    return load(
        "local kumo = require 'kumo'\n"
        "local function signer(sel)\n"
        "  return kumo.dkim.ed25519_signer { domain = 'example.com', selector = sel,\n"
        f"    headers = {{ 'From' }}, key = '{tmp_path / 'k.pem'}', ttl = '10s' }}\n"
        "end\n"
        "kumo.on('test_event', function()\n"
        f"{body}\n"
        "  return kumo.serde.json_encode(kumo.prometheus_metrics())\n"
        "end)\n"
    )


def _metrics(policy: Any) -> dict[str, Any]:
    return json.loads(policy.dispatch("test_event").values[0])  # type: ignore[no-any-return]


def _by_cache(m: dict[str, Any], name: str, cache: str) -> Any:
    return m[name]["value"]["cache_name"][cache]


def test_fresh_process_has_every_cache_at_zero(load: Any, tmp_path: Path) -> None:
    m = _metrics(_policy(load, tmp_path, ""))
    for cache in ("dkim_key_cache", "dkim_signer_cache"):
        for name in ("lruttl_lookup_count", "lruttl_hit_count", "lruttl_evict_count",
                     "lruttl_populated_count", "lruttl_cache_size"):
            assert _by_cache(m, name, cache) == 0
    assert m["lruttl_lookup_count"]["type"] == "counter"
    assert m["lruttl_cache_size"]["type"] == "gauge"
    assert m["dkim_signer_cache_lookup_count"]["value"] == 0


def test_signers_and_keys_are_cached(load: Any, tmp_path: Path, clock: FakeClock) -> None:
    policy = _policy(load, tmp_path, "for i = 1, 5 do signer('a') end\nsigner('b')")
    m = _metrics(policy)
    assert _by_cache(m, "lruttl_lookup_count", "dkim_signer_cache") == 6
    assert _by_cache(m, "lruttl_hit_count", "dkim_signer_cache") == 4
    assert _by_cache(m, "lruttl_populated_count", "dkim_signer_cache") == 2
    # two signers share one key: looked up twice, loaded once
    assert _by_cache(m, "lruttl_lookup_count", "dkim_key_cache") == 2
    assert _by_cache(m, "lruttl_populated_count", "dkim_key_cache") == 1
    assert _by_cache(m, "lruttl_cache_size", "dkim_signer_cache") == 2
    assert m["dkim_signer_cache_hit"]["value"] == 4
    assert m["dkim_signer_cache_miss"]["value"] == 2
    assert m["dkim_signer_key_fetch"]["value"]["count"] == 1
    # past the ttl the entry expires and is loaded again
    clock.advance("11 seconds")
    m = _metrics(policy)
    assert _by_cache(m, "lruttl_expire_count", "dkim_signer_cache") == 2
    assert _by_cache(m, "lruttl_populated_count", "dkim_signer_cache") == 4


def test_a_failed_key_load_is_cached_for_a_minute(
    load: Any, tmp_path: Path, clock: FakeClock
) -> None:
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('test_event', function()\n"
        "  return kumo.dkim.rsa_sha256_signer { domain = 'e.example', selector = 's',\n"
        f"    headers = {{ 'From' }}, key = '{tmp_path / 'later.pem'}' }}\n"
        "end)\n"
    )
    with pytest.raises(PolicyError, match="KeySource failed to load data from file"):
        policy.dispatch("test_event")
    (tmp_path / "later.pem").write_text(KEY)
    with pytest.raises(PolicyError, match="KeySource failed"):
        policy.dispatch("test_event")  # still the cached failure, as in kumod
    clock.advance("61 seconds")
    policy.dispatch("test_event")
    reg = registry(policy)
    assert reg.value("lruttl_error_count", cache_name="dkim_signer_cache") == 1
    assert reg.value("lruttl_miss_count", cache_name="dkim_signer_cache") == 3


def test_lruttl_eviction(clock: FakeClock, load: Any) -> None:
    policy = load("return 1")
    cache: LruTtlCache[int] = LruTtlCache(policy, "test_cache", 2)
    for key in ("a", "b", "a", "c"):
        cache.get_or_try_insert(key, lambda _: 60.0, lambda: 1)
    # "b" was least recently used when "c" arrived
    assert list(cache) == ["a", "c"]
    reg = registry(policy)
    assert reg.value("lruttl_evict_count", cache_name="test_cache") == 1
    assert reg.value("lruttl_hit_count", cache_name="test_cache") == 1


def test_json_shapes_and_text_format() -> None:
    reg = Registry()
    reg.inc("plain_total", "a plain counter", by=3)
    reg.inc("one_label", "", queue="q1")
    reg.inc("two_labels", "h", a="x", b="y")
    reg.observe("latency", 0.02, "seconds")
    j = reg.to_json()
    assert j["plain_total"] == {"help": "a plain counter", "type": "counter", "value": 3}
    assert j["one_label"] == {"type": "counter", "value": {"queue": {"q1": 1}}}
    assert j["two_labels"]["value"] == [{"a": "x", "b": "y", "@": 1}]
    hist = j["latency"]["value"]
    assert hist["count"] == 1 and hist["bucket"][2] == [0.025, 1.0] and hist["bucket"][1][1] == 0
    text = reg.text()
    assert "# HELP plain_total a plain counter\n# TYPE plain_total counter\nplain_total 3\n" in text
    assert 'two_labels{a="x",b="y"} 1\n' in text
    assert 'latency_bucket{le="+Inf"} 1\n' in text and "latency_count 1\n" in text


def test_library_docs_metrics_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "library.md").read_text()
    section = doc[doc.index("## Metrics") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    exec(compile(code, "docs/library.md: Metrics", "exec"), {"__name__": "__doc_example__"})

"""`kumopy replay`: counts against a straightforward reference computation,
zstd segments, broken lines, --out order with several jobs, the CLI."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kumopy import Policy
from kumopy._regex import RegexSetMap
from kumopy._replay import ReplaySpec, replay
from kumopy._replay._sample import write_log
from kumopy.cli import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, cli

RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"

POLICY = """
local kumo = require 'kumo'
local load_rules = kumo.memoize(function()
  return kumo.regex_set_map.new(kumo.json_load('/opt/kumomta/etc/policy/dsn_rewrite.json'))
end, {name = 'rules', ttl = '5 minutes', capacity = 1})

kumo.on('smtp_client_rewrite_delivery_status', function(response, domain, tenant, campaign, routing)
  if string.find(response, 'EXPLODE', 1, true) then
    error('handler exploded')
  end
  return load_rules()[response]
end)
"""

RULES = {
    r"^4[0-9][0-9] 4\.2\.2 .*[Qq]uota": 552,
    r"(?i)^450 .*user unknown": 550,
    r"^421 .*deferred": 421,  # same code: never a rewrite
    r"^452 Insufficient": 552,
}

RESPONSES: list[tuple[int, tuple[int, int, int] | None, str]] = [
    (452, (4, 2, 2), "Mailbox over quota"),
    (452, (4, 2, 2), "quota exceeded for user"),
    (450, (4, 1, 1), "Recipient address rejected: User unknown"),
    (450, None, "user UNKNOWN here"),
    (421, (4, 7, 0), "Messages temporarily deferred"),
    (452, None, "Insufficient system storage"),
    (451, (4, 3, 0), "Temporary server error"),
    (550, (5, 1, 1), "No such user"),
    (451, None, "EXPLODE please"),
    (250, None, "OK"),
    (400, None, "KumoMTA internal: failed to send message: connection reset"),
    (554, (5, 6, 3), "KumoMTA internal: DATA is 8bit, destination does not support 8BITMIME. "
     "Conversion via msg:check_fix_conformance during reception is required"),
]

TYPES = ["Reception", "Delivery", "TransientFailure", "Bounce", "Expiration", "AdminBounce",
         "Rejection"]

BROKEN = [
    '{"type":"TransientFailure","id":"x","response":{"code":452',  # cut short
    "not json at all",
    "[1, 2, 3]",
    '{"type":"Bounce", "response": oops}',  # a candidate that fails to parse
    '{"type":"Bounce","response":{"code":"452","content":"x"}}',  # wrong shape
    '{"type":"Delivery", broken}',  # found only with --check-json
    '{"no_type": "TransientFailure"}',  # found in both modes (a candidate)
]


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES))
    return path


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    return path


@pytest.fixture
def spec(policy_file: Path, rules_file: Path) -> ReplaySpec:
    return ReplaySpec(str(policy_file), path_map=((RULES_PATH, str(rules_file)),))


def make_record(rng: random.Random, i: int) -> dict[str, Any]:
    code, enhanced, text = rng.choice(RESPONSES)
    content = text
    if rng.random() < 0.1 and code != 250:
        # kumod logged it after its own rewrite
        new = rng.choice((599, 250))  # a rewrite to 250 is logged as a Delivery
        content = f"{text} (kumomta: status was rewritten from {code} -> {new})"
        code = new
    domain = rng.choice(["a.example", "B.example", "c.example"])
    recipient: Any = f"user{i}@{domain}"
    if rng.random() < 0.1:
        recipient = [recipient, f"other{i}@{domain}"]
    record: dict[str, Any] = {
        "type": "Delivery" if code == 250 and rng.random() < 0.5 else rng.choice(TYPES),
        "id": f"id{i}",
        "recipient": recipient,
        "queue": rng.choice([domain, f"t@{domain}", f"c:t@{domain}!relay.example"]),
        "response": {
            "code": code,
            "enhanced_code": None if enhanced is None else dict(
                zip(("class", "subject", "detail"), enhanced, strict=True)),
            "content": content,
            "command": "RCPT TO:<x@y>\r\n",
        },
        "delivery_protocol": rng.choice(["ESMTP", "ESMTP", None, "Maildir"]),
    }
    roll = rng.random()
    if roll < 0.05:
        record["response"] = None
    elif roll < 0.08:
        del record["response"]
    elif roll < 0.1:
        del record["delivery_protocol"]
    if rng.random() < 0.25:
        # kumod writes "type" first; the reader must not depend on it
        record["type"] = record.pop("type")
    return record


def make_lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.04:
            lines.append(rng.choice(BROKEN))
        elif roll < 0.06:
            lines.append("")
        else:
            sep = (",", ":") if rng.random() < 0.5 else (", ", ": ")
            lines.append(json.dumps(make_record(rng, i), separators=sep))
    return lines


def write_plain(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def write_zstd(path: Path, lines: list[str], frames: int = 2) -> None:
    """Several zstd frames, as kumod's segments may hold."""
    cut = len(lines) // frames
    parts = [lines[i * cut:(i + 1) * cut if i < frames - 1 else None] for i in range(frames)]
    comp = zstandard.ZstdCompressor()
    path.write_bytes(b"".join(comp.compress("".join(x + "\n" for x in p).encode())
                              for p in parts))


# ---------------------------------------------------------------------------
# the reference computation
# ---------------------------------------------------------------------------

REWRITTEN = re.compile(r" \(kumomta: status was rewritten from (\d+) -> (\d+)\)$")


def reference(files: list[list[str]], check_json: bool = False) -> dict[str, Any]:
    """What replay must report, computed the plain way: json.loads on each
    line, the eligibility rules spelled out, the rule set matched directly
    (first match in sorted pattern order, as kumopy's regex_set_map)."""
    rules = RegexSetMap(dict(sorted(RULES.items())))
    counts: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    by_domain: dict[str, list[int]] = {}
    by_rule: dict[str, list[int]] = {}
    for lines in files:
        for text in lines:
            text = text.strip()
            if not text:
                continue
            counts["read"] += 1
            candidate = ("TransientFailure\"" in text or "Bounce\"" in text
                         or "(kumomta: status was rewritten from " in text)
            try:
                record = json.loads(text)
            except ValueError:
                if candidate or check_json or not (text.startswith("{") and text.endswith("}")):
                    counts["malformed"] += 1
                continue
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                counts["malformed"] += 1
                continue
            resp = record.get("response")
            rewritten_delivery = (record["type"] == "Delivery" and isinstance(resp, dict)
                                  and "(kumomta: status was rewritten from "
                                  in str(resp.get("content")))
            if record["type"] not in ("TransientFailure", "Bounce") and not rewritten_delivery:
                continue
            if resp is None:
                continue
            if record.get("delivery_protocol") not in (None, "ESMTP"):
                continue
            if not isinstance(resp.get("code"), int):
                counts["malformed"] += 1
                continue
            code, content = resp["code"], resp["content"]
            m = REWRITTEN.search(content)
            if m and int(m.group(2)) == code:
                code, content = int(m.group(1)), content[: m.start()]
            if code == 250:
                continue
            if content.startswith("KumoMTA internal: ") and "8BITMIME" not in content:
                continue
            enh = resp["enhanced_code"]
            line = f"{code} " + (f"{enh['class']}.{enh['subject']}.{enh['detail']} " if enh
                                 else "") + content
            counts["eligible"] += 1
            rcpt = record["recipient"]
            domain = (rcpt[0] if isinstance(rcpt, list) else rcpt).split("@")[1].lower()
            row = by_domain.setdefault(domain, [0, 0])
            row[0] += 1
            if "EXPLODE" in line:
                counts["errors"] += 1
                counts["unchanged"] += 1
                continue
            matches = rules.matches(line)
            new = matches[0][1] if matches else None
            if matches:
                by_rule.setdefault(matches[0][0], [0, 0])[0] += 1
            if new is None or new == code:
                counts["unchanged"] += 1
                continue
            counts["rewritten"] += 1
            row[1] += 1
            by_rule[matches[0][0]][1] += 1
            by_code[f"{code} -> {new}"] += 1
    return {
        "read": counts["read"], "eligible": counts["eligible"],
        "rewritten": counts["rewritten"], "unchanged": counts["unchanged"],
        "errors": counts["errors"], "malformed": counts["malformed"],
        "by_code": dict(sorted(by_code.items())),
        "by_domain": {k: {"eligible": v[0], "rewritten": v[1]}
                      for k, v in sorted(by_domain.items())},
        "by_rule": {k: {"matched": v[0], "rewritten": v[1]} for k, v in sorted(by_rule.items())},
    }


def summary(report: Any) -> dict[str, Any]:
    data = report.to_json()
    return {k: data[k] for k in ("read", "eligible", "rewritten", "unchanged", "errors",
                                 "malformed", "by_code", "by_domain", "by_rule")}


# ---------------------------------------------------------------------------
# counts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("check_json", [False, True])
def test_counts_match_reference_plain_and_zstd(tmp_path: Path, spec: ReplaySpec,
                                               check_json: bool) -> None:
    a, b = make_lines(1, 1500), make_lines(2, 1500)
    write_plain(tmp_path / "a.log", a)
    write_zstd(tmp_path / "b.zst", b, frames=3)
    spec = ReplaySpec(spec.policy, path_map=spec.path_map, check_json=check_json)
    report = replay(spec, [str(tmp_path / "a.log"), str(tmp_path / "b.zst")])
    expected = reference([a, b], check_json)
    assert summary(report) == expected
    # the fixture exercises every branch
    assert expected["rewritten"] and expected["errors"] and expected["malformed"]
    assert report.restored > 0
    assert set(report.not_offered) == {"type", "no response", "250", "internal", "protocol"}


def test_check_json_finds_more_malformed_lines(tmp_path: Path, spec: ReplaySpec) -> None:
    lines = ['{"type":"Delivery", broken}', '{"type":"Reception","id":"1"}']
    write_plain(tmp_path / "a.log", lines)
    quick = replay(spec, [str(tmp_path / "a.log")])
    full = replay(ReplaySpec(spec.policy, path_map=spec.path_map, check_json=True),
                  [str(tmp_path / "a.log")])
    assert (quick.malformed, full.malformed) == (0, 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(0, 120), compress=st.booleans())
def test_counts_match_reference_property(tmp_path: Path, spec: ReplaySpec, seed: int, n: int,
                                         compress: bool) -> None:
    lines = make_lines(seed, n)
    path = tmp_path / "p.log"
    if compress:
        write_zstd(path, lines, frames=1 + seed % 3)
    else:
        write_plain(path, lines)
    assert summary(replay(spec, [str(path)])) == reference([lines])


def test_truncated_zstd_segment_is_reported_and_counted(tmp_path: Path, spec: ReplaySpec) -> None:
    lines = make_lines(3, 400)
    # kumod streams a segment: blocks flushed as it goes, the frame still open
    cobj = zstandard.ZstdCompressor().compressobj()
    chunks = []
    for i in range(0, len(lines), 50):
        chunks.append(cobj.compress("".join(x + "\n" for x in lines[i:i + 50]).encode()))
        chunks.append(cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
    data = b"".join(chunks)
    path = tmp_path / "open-segment"
    path.write_bytes(data[: len(data) // 2])
    problems: list[Any] = []
    report = replay(spec, [str(path)], on_problem=problems.append)
    whole = problems[-1]
    assert whole.kind == "malformed" and "ends in the middle of a frame" in whole.message
    assert 50 < whole.line < 350
    # everything before the cut was replayed like the same lines uncompressed
    done = lines[: whole.line - 1]
    expected = reference([done])
    got = summary(report)
    assert got["read"] == expected["read"]
    assert got["malformed"] == expected["malformed"] + 1
    assert got["rewritten"] == expected["rewritten"]


def test_problems_name_file_and_line(tmp_path: Path, spec: ReplaySpec) -> None:
    good = json.dumps({"type": "TransientFailure", "id": "1", "recipient": "u@a.example",
                       "queue": "a.example", "response": {"code": 451, "enhanced_code": None,
                                                          "content": "EXPLODE", "command": None}})
    write_plain(tmp_path / "x.log", [good, "", "garbage", good[:-5]])
    problems: list[Any] = []
    report = replay(spec, [str(tmp_path / "x.log")], on_problem=problems.append)
    assert [(p.line, p.kind) for p in problems] == [(1, "error"), (3, "malformed"),
                                                     (4, "malformed")]
    assert all(p.file == str(tmp_path / "x.log") for p in problems)
    assert "handler exploded" in problems[0].message
    assert (report.read, report.errors, report.malformed) == (3, 1, 2)


def test_rewritten_record_is_replayed_with_original_code(tmp_path: Path,
                                                         spec: ReplaySpec) -> None:
    rec = {"type": "Bounce", "id": "r1", "recipient": "u@a.example", "queue": "a.example",
           "response": {"code": 552, "enhanced_code": {"class": 4, "subject": 2, "detail": 2},
                        "content": "Mailbox over quota (kumomta: status was rewritten from "
                        "452 -> 552)", "command": None}}
    write_plain(tmp_path / "x.log", [json.dumps(rec)])
    out = tmp_path / "out.jsonl"
    with out.open("w") as f:
        report = replay(spec, [str(tmp_path / "x.log")], out=f)
    assert report.restored == 1 and report.rewritten == 1
    row = json.loads(out.read_text())
    assert row["original"] == "452 4.2.2 Mailbox over quota"
    assert row["rewritten"] == ("552 4.2.2 Mailbox over quota (kumomta: status was "
                                "rewritten from 452 -> 552)")
    assert row["pattern"] == r"^4[0-9][0-9] 4\.2\.2 .*[Qq]uota"
    assert (row["id"], row["domain"], row["line"]) == ("r1", "a.example", 1)


def test_queue_name_reaches_the_handler(tmp_path: Path) -> None:
    policy = tmp_path / "q.lua"
    policy.write_text("""
local kumo = require 'kumo'
kumo.on('smtp_client_rewrite_delivery_status', function(r, domain, tenant, campaign, routing)
  if domain == 'd.example' and tenant == 't' and campaign == 'c' and routing == 'r.example' then
    return 500
  end
end)
""")
    rec = {"type": "TransientFailure", "recipient": "u@d.example", "queue": "c:t@d.example!r.example",
           "response": {"code": 451, "enhanced_code": None, "content": "x", "command": None}}
    other = dict(rec, queue="d.example")
    write_plain(tmp_path / "x.log", [json.dumps(rec), json.dumps(other)])
    report = replay(ReplaySpec(str(policy)), [str(tmp_path / "x.log")])
    assert (report.rewritten, report.unchanged) == (1, 1)


# ---------------------------------------------------------------------------
# jobs and --out
# ---------------------------------------------------------------------------


def test_jobs_1_and_2_give_identical_out(tmp_path: Path, spec: ReplaySpec,
                                         rules_file: Path) -> None:
    # the sample generator's responses, and enough records for many batches
    rules = {r"^45[0-9] .*#1[0-9]$": 552, r"(?i)quota.* #[0-9]*7$": 550}
    rules_file.write_text(json.dumps(rules))
    write_log(str(tmp_path / "big.zst"), 40_000, compress=True, match_range=100)
    write_plain(tmp_path / "small.log", make_lines(4, 300))
    paths = [str(tmp_path / "big.zst"), str(tmp_path / "small.log")]
    outs = []
    reports = []
    problems: list[list[str]] = []
    # 2 jobs for 2 files: each worker takes whole files; 3 jobs: batches
    for jobs in (1, 2, 3):
        out = tmp_path / f"out{jobs}.jsonl"
        seen: list[str] = []
        with out.open("w") as f:
            reports.append(replay(spec, paths, jobs=jobs, out=f,
                                  on_problem=lambda p, seen=seen: seen.append(str(p))))
        outs.append(out.read_text())
        problems.append(seen)
    assert outs[0] == outs[1] == outs[2]
    assert summary(reports[0]) == summary(reports[1]) == summary(reports[2])
    assert problems[0] == problems[1] == problems[2] and problems[0]
    rows = [json.loads(x) for x in outs[0].splitlines()]
    assert len(rows) == reports[0].rewritten > 100
    small = make_lines(4, 300)
    assert reports[0].read == 40_000 + sum(1 for x in small if x.strip())
    # the line numbers point at the records (batches cut inside zstd reads)
    big = zstandard.ZstdDecompressor().decompressobj().decompress(
        (tmp_path / "big.zst").read_bytes()).decode().split("\n")
    for row in rows:
        if row["file"].endswith("big.zst"):
            record = json.loads(big[row["line"] - 1])
            assert record["id"] == row["id"]
            assert record["response"]["content"] in row["original"]
    assert [(r["file"], r["line"]) for r in rows] == sorted(
        (r["file"], r["line"]) for r in rows)


def test_cache_gives_same_counts_for_a_pure_handler(tmp_path: Path, spec: ReplaySpec) -> None:
    lines = make_lines(5, 800)
    write_plain(tmp_path / "a.log", lines)
    cached = ReplaySpec(spec.policy, path_map=spec.path_map, cache=True)
    assert summary(replay(cached, [str(tmp_path / "a.log")])) == summary(
        replay(spec, [str(tmp_path / "a.log")]))


def test_cache_changes_results_of_an_impure_handler(tmp_path: Path) -> None:
    policy = tmp_path / "count.lua"
    policy.write_text("""
local kumo = require 'kumo'
local calls = 0
kumo.on('smtp_client_rewrite_delivery_status', function(r)
  calls = calls + 1
  if calls % 2 == 0 then return 500 end
end)
""")
    rec = json.dumps({"type": "TransientFailure", "recipient": "u@d.example",
                      "queue": "d.example", "response": {"code": 451, "enhanced_code": None,
                                                         "content": "same", "command": None}})
    write_plain(tmp_path / "x.log", [rec] * 10)
    plain = replay(ReplaySpec(str(policy)), [str(tmp_path / "x.log")])
    cached = replay(ReplaySpec(str(policy), cache=True), [str(tmp_path / "x.log")])
    assert plain.rewritten == 5
    assert cached.rewritten == 0  # the first call's answer, reused: why it is opt-in


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def _invoke(args: list[str]) -> Any:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_report_and_out(tmp_path: Path, policy_file: Path, rules_file: Path) -> None:
    lines = make_lines(6, 600)
    write_plain(tmp_path / "a.log", [x for x in lines if x not in BROKEN and "EXPLODE" not in x])
    out = tmp_path / "out.jsonl"
    result = _invoke(["replay", str(policy_file), str(tmp_path / "a.log"), "-j", "1",
                      "--map", f"{RULES_PATH}={rules_file}", "--out", str(out), "--json"])
    assert result.exit_code == EXIT_OK, result.stderr
    data = json.loads(result.stdout)  # stdout is only the report
    expected = reference([[x for x in lines if x not in BROKEN and "EXPLODE" not in x]])
    assert {k: data[k] for k in expected} == expected
    assert len(out.read_text().splitlines()) == data["rewritten"] > 0
    assert result.stderr == ""


def test_cli_text_report(tmp_path: Path, policy_file: Path, rules_file: Path) -> None:
    write_plain(tmp_path / "a.log", make_lines(7, 400))
    result = _invoke(["replay", str(policy_file), str(tmp_path / "a.log"), "-j", "1",
                      "--map", f"{RULES_PATH}={rules_file}", "--show-problems", "2"])
    assert result.exit_code == EXIT_PARTIAL  # malformed lines and handler errors
    assert "Traceback" not in result.stderr
    expected = reference([make_lines(7, 400)])
    for key in ("eligible", "rewritten", "unchanged", "errors", "malformed"):
        assert re.search(rf"^  {key} +{expected[key]:,}\b", result.stdout, re.M), key
    assert "by code:" in result.stdout and "by rule:" in result.stdout
    shown = [x for x in result.stderr.splitlines() if re.match(r".*a\.log:\d+: ", x)]
    assert 2 < len(shown) <= 4
    assert re.search(r"\.\.\. and [0-9,]+ more malformed lines", result.stderr)


def test_cli_exit_codes(tmp_path: Path, policy_file: Path) -> None:
    log = tmp_path / "a.log"
    write_plain(log, [json.dumps({"type": "Delivery"})])
    broken = tmp_path / "broken.lua"
    broken.write_text("this is not lua")
    r = _invoke(["replay", str(broken), str(log)])
    assert r.exit_code == EXIT_FAILURE and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("kumopy: error:")
    r = _invoke(["replay", str(policy_file)])
    assert r.exit_code == EXIT_USAGE
    r = _invoke(["replay", str(policy_file), str(tmp_path / "missing.log")])
    assert r.exit_code == EXIT_USAGE
    r = _invoke(["replay", str(policy_file), str(log), "-j", "0"])
    assert r.exit_code == EXIT_USAGE
    r = _invoke(["replay", str(policy_file), str(log), "--json"])
    assert r.exit_code == EXIT_OK and json.loads(r.stdout)["read"] == 1


def test_cli_directory_of_segments(tmp_path: Path, policy_file: Path, rules_file: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = make_lines(8, 200), make_lines(9, 200)
    write_zstd(logs / "20250101-000000", a)
    write_plain(logs / "20250101-010000", b)
    r = _invoke(["replay", str(policy_file), str(logs), "--json", "-j", "1",
                 "--map", f"{RULES_PATH}={rules_file}"])
    data = json.loads(r.stdout)
    assert data["files"] == 2
    expected = reference([a, b])
    assert {k: data[k] for k in expected} == expected


def test_shipped_sample_log(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    sample = repo / "policies" / "dsn-rewrite" / "sample-log.jsonl"
    if not sample.exists():
        pytest.skip("no shipped sample log")
    r = _invoke(["replay", str(repo / "policies/dsn-rewrite/init.lua"), str(sample), "--json",
                 "-j", "1", "--map",
                 f"{RULES_PATH}={repo / 'policies/dsn-rewrite/dsn_rewrite.json'}"])
    data = json.loads(r.stdout)
    assert r.exit_code == EXIT_OK and data["rewritten"] > 0 and data["eligible"] > data["rewritten"]


def test_policy_loaded_once_per_worker_is_reused(spec: ReplaySpec, tmp_path: Path) -> None:
    policy = spec.load()
    assert isinstance(policy, Policy)
    write_plain(tmp_path / "a.log", make_lines(10, 50))
    r1 = replay(spec, [str(tmp_path / "a.log")], policy=policy)
    r2 = replay(spec, [str(tmp_path / "a.log")])
    assert summary(r1) == summary(r2)


def test_crlf_and_padded_lines(tmp_path: Path, spec: ReplaySpec) -> None:
    lines = make_lines(11, 300)
    path = tmp_path / "crlf.log"
    path.write_bytes("".join(f"  {x}\t\r\n" for x in lines).encode())
    assert summary(replay(spec, [str(path)])) == reference([lines])


def test_by_rule_is_the_last_matching_lookup(tmp_path: Path) -> None:
    policy = tmp_path / "two.lua"
    policy.write_text("""
local kumo = require 'kumo'
local first = kumo.regex_set_map.new({ ['^451'] = 'soft', ['nomatch'] = 'x' })
local codes = kumo.regex_set_map.new({ ['quota'] = 552, ['zzz'] = 500 })
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  if first[response] == 'soft' then return codes[response] end
end)
""")
    rec = {"type": "TransientFailure", "recipient": "u@d.example", "queue": "d.example",
           "response": {"code": 451, "enhanced_code": None, "content": "over quota",
                        "command": None}}
    plain = dict(rec, response=dict(rec["response"], content="plain"))
    write_plain(tmp_path / "x.log", [json.dumps(rec), json.dumps(plain)])
    report = replay(ReplaySpec(str(policy)), [str(tmp_path / "x.log")])
    assert report.by_rule == {"quota": [1, 1], "^451": [1, 0]}


def test_cli_jobs_give_identical_out(tmp_path: Path, policy_file: Path,
                                     rules_file: Path) -> None:
    rules_file.write_text(json.dumps({r"^45[0-9] .*#1[0-9]$": 552}))
    write_log(str(tmp_path / "seg.zst"), 12_000, compress=True, match_range=100)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        r = _invoke(["replay", str(policy_file), str(tmp_path / "seg.zst"), "-j", jobs,
                     "--map", f"{RULES_PATH}={rules_file}", "--out", str(out), "--json"])
        assert r.exit_code == EXIT_OK, r.stderr
        assert json.loads(r.stdout)["jobs"] == int(jobs)
        outs.append(out.read_text())
    assert outs[0] == outs[1] and outs[0].count("\n") > 10


def _kumod_layout_lines(seed: int, n: int) -> list[str]:
    """Records as kumod writes them: compact JSON, "type" first."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        record = make_record(rng, i)
        record = {"type": record.pop("type"), **record}
        lines.append(json.dumps(record, separators=(",", ":")))
    return lines


def test_replay_of_a_log_in_kumod_layout_matches_the_reference(tmp_path: Path, spec: ReplaySpec) -> None:
    path = tmp_path / "kumod.log"
    lines = _kumod_layout_lines(99, 3000)
    write_zstd(path, lines)
    for jobs in (1, 2):
        report = replay(spec, [str(path)], jobs=jobs)
        assert summary(report) == reference([lines])

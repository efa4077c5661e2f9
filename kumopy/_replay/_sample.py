"""Synthetic KumoMTA logs and rule sets, for the replay benchmark and the
shipped sample (`python -m kumopy._replay._sample --help`).

Records follow KumoMTA's log record shape (docs/reference/log_record.md).
The mix of a busy node: for each message a Reception, then a Delivery, or
one or more TransientFailures (some then a Bounce); a few kumod-internal
failures, Expirations and AdminBounces.  Remote responses are drawn from
typical provider replies; `rules(n)` gives n patterns in the style of
dsn_rewrite.json, about half of which match some of those replies.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from typing import Any

import zstandard

__all__ = ["records", "rules", "write_log"]

_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.com", "example.net",
            "mail.example.org", "aol.com", "gmx.de", "web.de", "icloud.com"]

# (code, enhanced code, text); {n} is a number that rules(n) may target
_REMOTE = [
    (452, (4, 2, 2), "The email account that you tried to reach is over quota. ref #{n}"),
    (452, (4, 2, 2), "Mailbox full #{n}"),
    (552, (5, 2, 2), "Mailbox over quota #{n}"),
    (421, (4, 7, 0), "[TSS04] Messages from 192.0.2.1 temporarily deferred #{n}"),
    (451, (4, 2, 1), "The user you are trying to contact is receiving mail too quickly #{n}"),
    (450, (4, 2, 1), "The account has been disabled or is inactive #{n}"),
    (450, (4, 1, 1), "<someone@example.com>: Recipient address rejected: User unknown #{n}"),
    (450, None, "Requested mail action not taken: mailbox unavailable (user suspended) #{n}"),
    (452, None, "Insufficient system storage #{n}"),
    (550, (5, 1, 1), "The email account that you tried to reach does not exist #{n}"),
    (451, (4, 3, 0), "Temporary server error. Please try again later #{n}"),
    (421, (4, 7, 28), "Unusual rate of unsolicited mail from your IP address #{n}"),
    (554, (5, 7, 1), "Service unavailable; Client host blocked using zen.spamhaus.org #{n}"),
]
_INTERNAL = [
    (421, (4, 4, 2), "KumoMTA internal: failed to send message to {d} Timed Out waiting 60s"),
    (400, None, "KumoMTA internal: failed to connect to any candidate hosts"),
]


def rules(n: int, seed: int = 1) -> dict[str, int]:
    """n rewrite rules (pattern -> code), ASCII classes so that 1,000 of
    them stay below the Rust crate's size limit, as real rule files do."""
    rng = random.Random(seed)
    out: dict[str, int] = {}
    styles = [
        r"^4[0-9][0-9] 4\.2\.2 .*quota.* #{n}$",
        r"^452 .*[Ii]nsufficient system storage #{n}$",
        r"^45[0-9] 4\.2\.1 .*(disabled|inactive) #{n}$",
        r"^450 .*(user unknown|User unknown) #{n}$",
        r"(?i)^4[0-9][0-9] .*mailbox (full|unavailable).* #{n}$",
        r"^421 4\.7\.[0-9]+ .*deferred #{n}$",
    ]
    i = 0
    while len(out) < n:
        pattern = rng.choice(styles).format(n=i)
        out[pattern] = rng.choice((550, 552, 554))
        i += 1
    return out


def _response(rng: random.Random, templates: list[Any], domain: str, top: int) -> dict[str, Any]:
    code, enhanced, text = rng.choice(templates)
    return {
        "code": code,
        "enhanced_code": (None if enhanced is None else
                          {"class": enhanced[0], "subject": enhanced[1], "detail": enhanced[2]}),
        "content": text.format(n=rng.randrange(top), d=domain),
        "command": f"RCPT TO:<user@{domain}>\r\n",
    }


def records(n: int, seed: int = 1, match_range: int = 2_000) -> Iterator[dict[str, Any]]:
    """n log records.  Remote responses end in `#K` with K below
    `match_range` (rules(n) targets K < n)."""
    rng = random.Random(seed)
    made = 0
    t = 1_757_675_281
    while made < n:
        msg_id = f"{rng.getrandbits(128):032x}"
        domain = rng.choice(_DOMAINS)
        tenant = rng.choice(("", "tenant1@", "bulk:tenant2@"))
        base = {
            "id": msg_id, "sender": "news@sender.example.com",
            "recipient": f"user{rng.randrange(10**6)}@{domain}",
            "queue": f"{tenant}{domain}", "site": "", "size": rng.randrange(1000, 90000),
            "response": {"code": 250, "enhanced_code": None, "content": "", "command": None},
            "peer_address": {"name": f"mx.{domain}.", "addr": "192.0.2.7"},
            "timestamp": t, "created": t, "num_attempts": 0,
            "bounce_classification": "Uncategorized", "egress_pool": "pool0",
            "egress_source": "source1", "feedback_report": None, "meta": {}, "headers": {},
            "delivery_protocol": None, "reception_protocol": "ESMTP",
            "nodeid": "557f3ad4-2c8c-11ee-976e-782d7e12e173",
        }
        t += 1
        yield {"type": "Reception", **base,
               "response": {"code": 250, "enhanced_code": None, "content": "", "command": None}}
        made += 1
        roll = rng.random()
        attempts = 0
        if roll < 0.25:
            attempts = rng.randint(1, 3)
        for _ in range(attempts):
            if made >= n:
                return
            templates = _INTERNAL if rng.random() < 0.08 else _REMOTE
            resp = _response(rng, templates, domain, match_range)
            kind = "Bounce" if resp["code"] >= 500 else "TransientFailure"
            yield {"type": kind, **base, "response": resp, "delivery_protocol": "ESMTP",
                   "site": f"unspecified->mx.{domain}@smtp_client"}
            made += 1
            if kind == "Bounce":
                break
        else:
            if made >= n:
                return
            end = rng.random()
            if end < 0.01:
                yield {"type": "Expiration", **base, "response": {
                    "code": 551, "enhanced_code": {"class": 5, "subject": 4, "detail": 7},
                    "content": "Next delivery time would be at ... which exceeds the expiry "
                    "time", "command": None}}
            else:
                yield {"type": "Delivery", **base, "delivery_protocol": "ESMTP",
                       "response": {"code": 250, "enhanced_code": {"class": 2, "subject": 0,
                                                                   "detail": 0},
                                    "content": f"OK id={msg_id[:12]}", "command": ".\r\n"}}
            made += 1


def write_log(path: str, n: int, *, seed: int = 1, compress: bool = False,
              match_range: int = 2_000) -> None:
    """Write n records as JSON lines (zstd-compressed with `compress`)."""
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n"
                   for r in records(n, seed, match_range)).encode()
    with open(path, "wb") as f:
        f.write(zstandard.ZstdCompressor(level=3).compress(data) if compress else data)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic KumoMTA log.")
    parser.add_argument("path")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--zstd", action="store_true")
    parser.add_argument("--rules", metavar="FILE", help="also write rules(N) as JSON to FILE")
    parser.add_argument("--rule-count", type=int, default=1000)
    args = parser.parse_args()
    write_log(args.path, args.n, seed=args.seed, compress=args.zstd)
    if args.rules:
        with open(args.rules, "w") as f:
            json.dump(rules(args.rule_count), f, indent=1)


if __name__ == "__main__":
    main()

"""kumo.string.eval_template (Jinja, Handlebars, Static) and
kumo.string.normalize_smtp_response."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy import PolicyError
from kumopy._kumo import normalize as norm
from kumopy._kumo._handlebars import HandlebarsError
from kumopy._kumo._handlebars import render as hb


@pytest.fixture
def words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "words"
    path.write_text("hello\nmail\nbox\ntry\nagain\nlater\nfrom\nrefused\nfull\nfor\n")
    monkeypatch.setenv("KUMOPY_DICT_WORDS", str(path))
    norm._dictionary.cache_clear()
    return path


EVAL = """
kumo.on('t', function(name, source, ctx, dialect)
  return kumo.string.eval_template(name, source, ctx, dialect)
end)
"""


def test_jinja_escapes_by_extension(load) -> None:
    p = load(EVAL)
    ctx = {"name": "John & Co"}
    assert p.call("t", "x.json", "{{ name }}", ctx) == '"John & Co"'
    assert p.call("t", "x.html", "{{ name }}", ctx) == "John &amp; Co"
    assert p.call("t", "x.txt", "{{ name }}", ctx, "Jinja") == "John & Co"
    assert p.call("t", "x.txt", "{{ name }}", ctx, "Static") == "{{ name }}"
    assert p.call("t", "x.txt", "{{ name.upper() }} {% for k, v in d.items() %}{{k}}{{v}}{% endfor %}",
                  {"name": "a", "d": {"k": 1}}) == "A k1"


def test_jinja_errors_name_the_template_and_line(load) -> None:
    p = load(EVAL)
    with pytest.raises(PolicyError, match=r"unknown filter: filter nope is unknown \(in bad.txt:2\)"):
        p.call("t", "bad.txt", "ok\n{{ x | nope }}", {})
    with pytest.raises(PolicyError, match=r"syntax error.*\(in broken.txt:1\)"):
        p.call("t", "broken.txt", "{% if %}", {})
    with pytest.raises(PolicyError, match="unknown variant `Mustache`"):
        p.call("t", "x", "", {}, "Mustache")


def test_handlebars_basics() -> None:
    ctx = {"a": 0, "b": 1, "m": {"x": 1, "y": 2}, "l": [1, 2], "s": "HelloWorld", "n": "A<b>",
           "kids": [{"k": "one"}, {"k": "two"}], "top": "T"}
    src = ("{{#if a}}yes{{else if b}}b{{else}}no{{/if}} "
           "{{#each m}}{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}} "
           "{{len l}} {{eq 1 1}} {{lookup l 1}} {{snakeCase (titleCase s)}} "
           "{{#each kids}}{{@index}}:{{k}}/{{top}}/{{../top}} {{/each}}{{! a comment }}"
           "{{#with m}}{{x}}{{/with}}  {{~n~}}  !")
    assert hb("t.txt", src, ctx) == "b x=1,y=2 2 true 2 hello_world 0:one/T/T 1:two/T/T 1A<b>!"
    assert hb("t.html", "{{n}} {{{n}}} {{&n}}", ctx) == "A&lt;b&gt; A<b> A<b>"
    assert hb("t", "{{missing}}|{{m.x}}|{{l.1}}|{{true}}|{{1.5}}|{{l}}|{{m}}", ctx) == \
        "|1|2|true|1.5|[1, 2]|[object]"
    cases = {"lowerCamelCase": "helloWorldHTTP", "upperCamelCase": "HelloWorldHttp",
             "kebabCase": "hello-world-http", "shoutySnakeCase": "HELLO_WORLD_HTTP",
             "trainCase": "Hello-World-Http"}
    for helper, want in cases.items():
        if helper == "lowerCamelCase":
            want = "helloWorldHttp"
        assert hb("t", f"{{{{{helper} v}}}}", {"v": "hello_worldHTTP"}) == want, helper


def test_handlebars_errors_read_like_handlebars_rust() -> None:
    with pytest.raises(HandlebarsError, match='^Error rendering "n" line 2, col 3: Helper not found name$'):
        hb("n", "x\n  {{ name or 'Fred' }}", {"name": "J"})
    with pytest.raises(HandlebarsError, match="Template error: unclosed block if at line 1, col 1"):
        hb("n", "{{#if a}}", {})
    with pytest.raises(HandlebarsError, match="expected if, found each"):
        hb("n", "{{#if a}}{{/each}}", {})
    with pytest.raises(HandlebarsError, match="partials are not supported by kumopy"):
        hb("n", "{{> part}}", {})


def test_handlebars_from_lua(load) -> None:
    p = load(EVAL)
    assert p.call("t", "x.json", "{{ name }}", {"name": "John"}, "Handlebars") == "John"
    assert p.call("t", "x.html", "{{ name }}", {"name": "John & Co"}, "Handlebars") == "John &amp; Co"
    with pytest.raises(PolicyError, match='Error rendering "x" line 1, col 1: Helper not found name'):
        p.call("t", "x", "{{ name or 'Fred' }}", {"name": "John"}, "Handlebars")


def test_normalize(words: Path) -> None:
    cases = {
        "retry again at 2025-11-06T17:11:34.261306612Z": "retry again at {timestamp}",
        "a uuid 10aa5da5-3f3b-4176-beb9-32875830f082": "a uuid {uuid}",
        "hello aGVsbG8uCg==": "hello {base64}",
        "421 4.1.0 10.0.0.1 throttled try later": "421 4.1.0 {ipaddr} throttled try later",
        "from 42.69.10.20:25": "from {ipaddr}",
        "250 OK ids=8a5475ccbbc611eda12250ebf67f93bd": "250 OK ids={uuid}",
        "mail box full for user@example.com": "mail box full for {email}",
        "try again in 5m 30s (or P1DT2H)": "try again in {duration} or {duration}",
        "id abc123def456 [x]": "id {hash} x",
    }
    for text, want in cases.items():
        assert norm.normalize(text) == want, text


def test_normalize_without_a_dictionary_refuses_to_guess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load
) -> None:
    monkeypatch.setenv("KUMOPY_DICT_WORDS", str(tmp_path / "none"))
    norm._dictionary.cache_clear()
    # no purely alphabetic word that a dictionary could change: fine
    assert norm.normalize("250 OK ids=8a5475ccbbc611eda12250ebf67f93bd") == "250 OK ids={uuid}"
    p = load("kumo.on('t', function(s) return kumo.string.normalize_smtp_response(s) end)")
    with pytest.raises(PolicyError, match="deciding whether 'mail' is a dictionary word needs"):
        p.call("t", "mail box full")


def test_jinja_filter(load, words: Path) -> None:
    p = load(EVAL)
    assert p.call("t", "x.txt", "{{ r | normalize_smtp_response }}",
                  {"r": "550 mail from 10.1.2.3 refused"}) == "550 mail from {ipaddr} refused"


def test_psl_functions(load) -> None:
    p = load("kumo.on('t', function(s) return kumo.string.psl_domain(s), kumo.string.psl_suffix(s) end)")
    assert p.dispatch("t", "WWW.Example.COM.").values == ("example.com", "com")
    assert p.dispatch("t", "a.b.example.co.uk").values == ("example.co.uk", "co.uk")
    assert p.dispatch("t", "com").values == (None, "com")
    assert p.dispatch("t", "host.unknown-tld").values == ("host.unknown-tld", "unknown-tld")

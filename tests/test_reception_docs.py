"""The Python examples of the reception, serve, inject and worked-example
sections of docs/messages.md run as written (from the repository root);
an example that is a pytest test runs under pytester."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "messages.md"
SECTIONS = (
    "## SMTP reception: what kumod fires, and when",
    "## `kumopy serve`",
    "## `kumopy inject`",
    "## Worked example: tenants from a header, rejection and DKIM",
)


def _examples() -> list[tuple[str, str]]:
    text = DOC.read_text()
    out = []
    for title in SECTIONS:
        start = text.index(title)
        nxt = text.find("\n## ", start + len(title))
        body = text[start : nxt if nxt >= 0 else len(text)]
        for n, block in enumerate(re.findall(r"```python\n(.*?)```", body, re.S)):
            out.append((f"{title[3:]} #{n + 1}", block))
    return out


EXAMPLES = _examples()


def test_examples_found() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_runs(name: str, code: str, pytester: pytest.Pytester,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    if re.search(r"^def test_", code, re.M):
        absolute = code.replace('"policies/', f'"{REPO}/policies/')
        pytester.makepyfile(test_doc_example=absolute)
        result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=len(re.findall(r"^def test_", code, re.M)))
        return
    monkeypatch.chdir(REPO)
    exec(compile(code, f"docs/messages.md: {name}", "exec"), {"__name__": "__doc_example__"})


def test_testing_md_fixture_example(pytester: pytest.Pytester) -> None:
    text = (REPO / "docs" / "testing.md").read_text()
    section = text.split("### `kumo_smtp_server`", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    pytester.makepyfile(test_fixture_example=code)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

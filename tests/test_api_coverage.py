"""docs/api-coverage.md is generated from the catalogue and must match it."""

from __future__ import annotations

from conftest import REPO

from kumopy._kumo import catalogue
from kumopy._kumo.coverage import render
from kumopy._kumo.names import KUMO_NAMES


def test_api_coverage_page_is_current():
    page = (REPO / "docs" / "api-coverage.md").read_text()
    assert page == render(), "regenerate: python -m kumopy._kumo.coverage > docs/api-coverage.md"


def test_every_kumod_name_is_in_the_kumo_table():
    assert set(KUMO_NAMES) <= set(catalogue())
    assert len(KUMO_NAMES) == 245


def test_unsupported_names_raise_naming_the_function(load):
    unsupported = [n for n, e in catalogue().items() if not e.supported and n != "version"]
    calls = "\n".join(
        f"  do local ok, e = pcall(kumo.{n}) if ok or not e:find('kumopy: kumo.{n} is not supported', 1, true) "
        f"then return '{n}' end end"
        for n in unsupported
    )
    p = load(f"kumo.on('t', function()\n{calls}\n  return 'all raised'\nend)")
    assert p.call("t") == "all raised"

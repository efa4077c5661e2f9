"""`kumopy lint`: check a rewrite rule file (pattern -> SMTP code)."""

from __future__ import annotations

import click

from .._lint import Finding, lint_rules, load_rules
from ._common import EXIT_FAILURE, CliError, common_options, echo, echo_err, json_line

__all__ = ["lint", "print_findings"]


def print_findings(label: str, findings: list[Finding], *, as_json: bool = False) -> None:
    """One line per finding on stdout: `LABEL: severity: kind: 'pattern': reason`."""
    for f in findings:
        if as_json:
            echo(json_line({"source": label, "severity": f.severity, "kind": f.kind,
                            "patterns": list(f.patterns), "message": f.message,
                            "example": f.example}))
        else:
            echo(f"{label}: {f}")


@click.command(
    "lint",
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Check a regex_set_map rule file.",
)
@click.argument("rules_path", metavar="RULES", type=click.Path(exists=True, dir_okay=False))
@click.option("--corpus", metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="Responses (one single-line response per line) to look for overlapping "
              "rules in.")
@click.option("--no-synthesize", is_flag=True,
              help="Report only overlaps seen in the --corpus (do not decide overlaps on "
              "automata).")
@click.option("--max-overlaps", metavar="N", type=click.IntRange(min=0), default=100,
              show_default=True,
              help="List at most N overlapping pairs (0: all); one more finding counts "
              "the rest.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per finding.")
@common_options
def lint(rules_path: str, corpus: str | None, no_synthesize: bool, max_overlaps: int,
         as_json: bool) -> None:
    """Check RULES, a JSON (comments allowed) or TOML file mapping Rust
    regular expressions to SMTP codes, as a policy hands it to
    kumo.regex_set_map.new for smtp_client_rewrite_delivery_status.

    Errors: patterns the Rust regex crate refuses (kumod then fails to
    build the map), patterns that can never match an offered response,
    values that are not SMTP codes, and pairs of patterns mapping to
    different codes that match the same response (kumod's choice between
    them changes at every restart), shown with that response.  Warnings:
    an enhanced code class that differs from the status class, 1xx-3xx
    values.  Overlaps are decided exactly, on automata; a pair too
    large to decide is a warning (`undecided`), never silence.

    stdout: one line per finding, `RULES: severity: kind: 'pattern':
    reason`; stderr: a summary.  Exit status: 0 no errors, 1 errors found
    (or RULES does not load), 2 wrong command line.
    """
    try:
        rules = load_rules(rules_path)
    except ValueError as e:
        raise CliError(str(e)) from None
    lines: list[str] = []
    if corpus is not None:
        try:
            with open(corpus, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise CliError(f"cannot read {corpus}: {e.strerror or e}") from None
    findings = lint_rules(rules, lines, synthesize=not no_synthesize,
                          max_overlaps=max_overlaps or None)
    print_findings(rules_path, findings, as_json=as_json)
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    echo_err(f"kumopy: {rules_path}: {len(rules)} rules, {errors} "
             f"error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    if errors:
        raise click.exceptions.Exit(EXIT_FAILURE)

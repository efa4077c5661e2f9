"""`kumo.string.eval_template(name, source, context [, dialect])`
(kumod: crates/mod-string, crates/kumo-template).

* `'Jinja'` (the default): rendered by MiniJinja through its Python
  binding (the `minijinja` package, the same Rust engine kumod embeds),
  with Python-compatible methods (`"x".upper()`, `d.items()`), kumod's
  `normalize_smtp_response` filter, and auto-escaping chosen from the
  name's extension (`.html`/`.htm`/`.xml` HTML, `.json`/`.json5`/`.js`/
  `.yaml`/`.yml` JSON).  The filters that kumod adds from
  minijinja-contrib and the Python binding lacks (`datetimeformat`,
  `dateformat`, `timeformat`, `now()`, `random`, `randrange`, `wordcount`)
  are "unknown filter" / "unknown function" errors.
* `'Handlebars'`: kumopy's own renderer of the handlebars-rust subset
  templates use (see `_handlebars.py`); HTML-escapes only for `.html` names.
* `'Static'`: the source, unchanged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._handlebars import HandlebarsError
from ._handlebars import render as render_handlebars
from ._lib import rust_string
from ._schema import Enum, deserialize
from .normalize import normalize

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["eval_template", "register"]

_DIALECT = Enum("TemplateDialect", ["Jinja", "Static", "Handlebars"])


def _jinja_escape(name: str) -> str | bool:
    """minijinja's default auto-escape rule (by the name's extension)."""
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    if name.endswith(".j2"):
        suffix = name[:-3].rsplit(".", 1)[-1]
    if suffix in ("html", "htm", "xml"):
        return "html"
    if suffix in ("json", "json5", "js", "yaml", "yml"):
        return "json"
    return False


#: MiniJinja instructions per second of CPU budget left (a generous estimate:
#: the fuel limit only has to stop a runaway template near the budget)
FUEL_PER_SECOND = 50_000_000


def render_jinja(name: str, source: str, context: dict[str, Any], fuel: int | None = None) -> str:
    import minijinja

    env = minijinja.Environment(debug=False, pycompat=True)
    if fuel is not None:
        env.fuel = fuel
    env.auto_escape_callback = _jinja_escape
    env.add_filter("normalize_smtp_response", lambda value: normalize(str(value)))
    env.add_template(name, source)
    try:
        return str(env.render_template(name, **context))
    except minijinja.TemplateError as e:
        raise KumoError(str(e)) from None


def eval_template(
    dialect: str, name: str, source: str, context: Any, fuel: int | None = None
) -> str:
    """Render like kumod's TemplateEngine::render."""
    if dialect == "Static":
        return source
    if dialect == "Handlebars":
        try:
            return render_handlebars(name, source, context)
        except HandlebarsError as e:
            raise KumoError(str(e)) from None
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise KumoError(f"invalid operation: context must be a map, not {type(context).__name__}")
    try:
        return render_jinja(name, source, {str(k): v for k, v in context.items()}, fuel)
    except KumoError:
        raise
    except Exception as e:  # minijinja reports bad templates as TemplateError; be safe
        raise KumoError(str(e)) from None


def _lua_eval_template(
    state: LuaState, name: Any = None, source: Any = None, context: Any = None,
    dialect: Any = None, *_: Any
) -> Any:
    n = rust_string(name)
    src = rust_string(source)
    which = "Jinja" if dialect is None else deserialize(state, _DIALECT, dialect)
    ctx = state.to_python(context, serialize=True)
    state.check_deadline()
    fuel = None
    if state.deadline is not None:
        # Rust code cannot be interrupted by the budget's hook: give MiniJinja
        # fuel for about the CPU time the handler has left
        left = max(state.deadline - time.thread_time(), 0.01)
        fuel = int(left * FUEL_PER_SECOND)
    try:
        text = eval_template(which, n, src, ctx, fuel)
    except KumoError as e:
        if "ran out of fuel" in str(e):
            state.check_deadline()
            raise KumoError(
                f"kumopy: the template used up the handler's CPU budget ({e})"
            ) from None
        raise
    state.check_alloc(len(text), "kumo.string.eval_template")
    return state.to_lua(text)


def register(kumo: Namespace) -> None:
    kumo.function(
        "string.eval_template",
        _lua_eval_template,
        notes="Jinja through the minijinja package (contrib filters it lacks are errors); "
        "Handlebars: kumopy's renderer of the common subset; Static",
    )

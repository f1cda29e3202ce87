"""Jinja compiles each piece of the project's SQL once per process, not once per refresh.

dbt renders every model and data test it runs from its raw SQL with a new Jinja
environment each time (``dbt_common.clients.jinja.get_template``), and Jinja's
``Environment.from_string`` lexes, parses, generates Python and compiles it again: about
a tenth of the refresh worker's CPU on an hour with nothing new (profiled with py-spy,
docs/decisions/incremental.md, "Round 5"). The Python code Jinja generates depends on
the source text and on the environment's settings, never on the context it is
rendered with, so the worker keeps each code object and renders it again with the new
context. dbt's macros are kept by dbt itself already (its ``TemplateCache``).

``install()`` is called by ``booking_report.transform`` before dbt runs. The key holds
what Jinja's lexer, parser and code generator read from an environment (its class,
delimiters, extensions, filters, tests, finalize, autoescape, optimizer, async), so two
environments that could compile a source differently never share its code.
"""

from __future__ import annotations

import threading
from typing import Any

# distinct sources kept; the project has a few hundred (models, data tests, macros)
LIMIT = 4096

_lock = threading.Lock()
_installed = False
memo: dict[tuple[Any, ...], Any] = {}
stats = {"compiled": 0, "reused": 0}


def shape(env: Any) -> tuple[Any, ...]:
    """What Jinja's compilation of a source reads from ``env``."""
    return (type(env), env.block_start_string, env.block_end_string,
            env.variable_start_string, env.variable_end_string, env.comment_start_string,
            env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
            env.trim_blocks, env.lstrip_blocks, env.newline_sequence,
            env.keep_trailing_newline, tuple(env.extensions), env.autoescape, env.finalize,
            env.optimized, env.is_async, frozenset(env.filters.items()),
            frozenset(env.tests.items()))


def install() -> None:
    """Keep the code of every source dbt's environments compile (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from dbt_common.clients.jinja import MacroFuzzEnvironment

        compile_source = MacroFuzzEnvironment.compile  # Jinja's, as the class has it

        def compile(self: Any, source: Any, name: str | None = None,
                    filename: str | None = None, raw: bool = False,
                    defer_init: bool = False) -> Any:
            if not isinstance(source, str):  # an already parsed template
                return compile_source(self, source, name, filename, raw, defer_init)
            key = (shape(self), source, name, filename, raw, defer_init)
            code = memo.get(key)
            if code is not None:
                stats["reused"] += 1
                return code
            code = compile_source(self, source, name, filename, raw, defer_init)
            stats["compiled"] += 1
            if len(memo) >= LIMIT:
                memo.clear()
            memo[key] = code
            return code

        # dbt's text and native environments (NativeSandboxEnvironment inherits it)
        MacroFuzzEnvironment.compile = compile
        _installed = True

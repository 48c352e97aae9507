"""No batchmon function runs a DELETE or UPDATE without WHERE.

Supabase preloads pg-safeupdate for PostgREST's login role: any such statement fails
there with ``21000: DELETE requires a WHERE clause``, so the desktop could not apply
results. The Supabase-shaped test database preloads a stand-in for ``authenticator``,
which catches what the tests run through it; this reads every function body the
migrations installed, called by a test or not, the way safeupdate reads a statement:
a DELETE or UPDATE needs a WHERE of its own (one inside a subquery does not count).
"""

from __future__ import annotations

import re

import pytest

from tests.fixtures.postgres import fetch_all

_NOISE = re.compile(
    r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\$([A-Za-z_]*)\$.*?\$\1\$|\"(?:[^\"]|\"\")*\"", re.S
)
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9.]*|[();]")
# "for update", "for no key update", "on conflict ... do update": not statements.
_NOT_A_STATEMENT = {"for", "key", "do"}


def _starts_statement(tokens: list[str], i: int) -> bool:
    """``delete from ...`` or ``update [only] name [alias] set``, not a privilege name."""
    if i and tokens[i - 1] in _NOT_A_STATEMENT:
        return False
    if tokens[i] == "delete":
        return tokens[i + 1 : i + 2] == ["from"]
    return "set" in tokens[i + 2 : i + 5]


def unqualified_dml(body: str) -> list[str]:
    """Each DELETE/UPDATE in ``body`` that has no WHERE at its own nesting level."""
    tokens = [t.lower() for t in _TOKEN.findall(_NOISE.sub(" ", body))]
    found = []
    for i, token in enumerate(tokens):
        if token not in ("delete", "update") or not _starts_statement(tokens, i):
            continue
        depth, qualified = 0, False
        for later in tokens[i + 1 :]:
            if later == "(":
                depth += 1
            elif later == ")":
                depth -= 1
                if depth < 0:
                    break
            elif later == ";" and depth == 0:
                break
            elif later == "where" and depth == 0:
                qualified = True
                break
        if not qualified:
            found.append(" ".join(tokens[i : i + 4]))
    return found


@pytest.mark.parametrize(
    "body",
    [
        "begin delete from pg_temp.batchmon_apply_rows; end",
        "update public.assets set tags = '{}'",
        "with c as (update t set x = (select 1 from u where u.id = 1) returning 1) select 1",
        "delete from t -- where x = 1\n;",
        "update t set note = 'where'; select 1 where true",
    ],
)
def test_the_check_catches_an_unqualified_statement(body: str) -> None:
    assert unqualified_dml(body)


@pytest.mark.parametrize(
    "body",
    [
        "delete from t r where r.seq is not null",
        "with c as (update t set x = 1 where t.id = 2 returning 1) select * from c",
        "insert into t values (1) on conflict (id) do update set x = 1",
        "select id from t for update skip locked",
        "select id from t for no key update",
        "create temp table t (x int) on commit delete rows; grant delete, update on t to public",
    ],
)
def test_the_check_passes_a_qualified_statement(body: str) -> None:
    assert unqualified_dml(body) == []


def test_no_batchmon_function_deletes_or_updates_without_where(database_url: str) -> None:
    functions = fetch_all(
        database_url,
        """
        select p.oid::regprocedure::text, p.prosrc
        from pg_catalog.pg_proc p
        join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        join pg_catalog.pg_language l on l.oid = p.prolang
        where n.nspname in ('public', 'auth') and l.lanname in ('sql', 'plpgsql')
        """,
    )
    assert len(functions) > 20  # the whole SQL API was read, not an empty schema
    offenders = {name: hits for name, body in functions if (hits := unqualified_dml(body))}
    assert offenders == {}

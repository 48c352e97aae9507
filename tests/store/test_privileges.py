"""anon and authenticated hold exactly the documented privileges on batchmon's objects.

Checked on a plain migrated PostgreSQL and on a Supabase-shaped one, whose default
privileges hand the API roles ALL on everything new in ``public``. Every privilege the
catalog grants (directly, through PUBLIC or a role membership) is listed and compared
with the table in docs/database.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.postgres import fetch_all
from tests.fixtures.supabase_project import SupabaseProject

DOC = Path(__file__).parents[2] / "docs" / "database.md"
ROLES = ("anon", "authenticated")
APP_TABLES = {"assets"}  # the app's own table: its grants are the app's
TABLE_PRIVILEGES = (
    "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"
)  # fmt: skip
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")

_HELD = """
select r.role, 'relation', c.relname, p.priv
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
cross join unnest(%(roles)s::text[]) as r(role)
cross join unnest(case when c.relkind = 'S' then %(seq)s::text[] else %(tab)s::text[] end)
  as p(priv)
where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S')
  and not (c.relname = any(%(app)s::text[]))
  and case when c.relkind = 'S' then has_sequence_privilege(r.role, c.oid, p.priv)
           else has_table_privilege(r.role, c.oid, p.priv) end
union all
select r.role, case when f.prorettype = 'trigger'::regtype then 'trigger' else 'function' end,
       f.proname, 'EXECUTE'
from pg_catalog.pg_proc f
join pg_catalog.pg_namespace n on n.oid = f.pronamespace
cross join unnest(%(roles)s::text[]) as r(role)
where n.nspname = 'public' and has_function_privilege(r.role, f.oid, 'EXECUTE')
"""


def documented() -> dict[tuple[str, str], set[str]]:
    """(role, table or view) -> privileges, from the table in docs/database.md."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- privileges: role | object | privileges -->")[1]
    block = block.split("<!-- /privileges -->")[0]
    rows = {}
    for role, obj, privileges in re.findall(
        r"^\| `(\w+)` \| (?:table|view) `(\w+)` \| ([A-Z, a-z]+) \|$", block, re.M
    ):
        rows[(role, obj)] = set() if privileges == "none" else set(privileges.split(", "))
    # The rules the other rows state in words, which the comparison below applies.
    assert "| `authenticated` | every function of the SQL API | EXECUTE |" in block
    assert "| `anon` | every batchmon table, view, sequence and function | none |" in block
    return rows


@pytest.fixture(params=["plain", "supabase"])
def migrated_url(request: pytest.FixtureRequest) -> str:
    if request.param == "plain":
        return str(request.getfixturevalue("database_url"))
    project: SupabaseProject = request.getfixturevalue("supabase_project")
    return project.admin_url


def test_the_api_roles_hold_exactly_the_documented_privileges(migrated_url: str) -> None:
    params = {
        "roles": list(ROLES),
        "seq": list(SEQUENCE_PRIVILEGES),
        "tab": list(TABLE_PRIVILEGES),
        "app": sorted(APP_TABLES),
    }
    with psycopg.connect(migrated_url) as conn:
        rows = conn.execute(_HELD, params).fetchall()
    held: dict[tuple[str, str], set[str]] = {}
    for role, kind, name, privilege in rows:
        held.setdefault((role, f"{kind} {name}"), set()).add(privilege)
    functions = {
        name
        for (name,) in fetch_all(
            migrated_url,
            "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.prorettype <> 'trigger'::regtype",
        )
    }
    expected = {
        ("authenticated", f"relation {name}"): privileges
        for (role, name), privileges in documented().items()
        if role == "authenticated" and privileges
    }
    expected.update({("authenticated", f"function {f}"): {"EXECUTE"} for f in functions})

    assert held == expected
    assert len(functions) > 20 and ("authenticated", "relation openai_batches") in held

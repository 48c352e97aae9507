/*
 * require_where: a DELETE or UPDATE without WHERE is an error (SQLSTATE 21000), the rule
 * Supabase enforces by preloading pg-safeupdate for PostgREST's login role. Written for
 * the test server (tests/fixtures/supabase_project.py builds it), so that the
 * Supabase-shaped database refuses what a real project refuses, inside function
 * bodies too: PL/pgSQL and SQL functions parse their statements through the same hook.
 */
#include "postgres.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"

PG_MODULE_MAGIC;

static post_parse_analyze_hook_type previous_hook = NULL;

static void
check_query(Query *query)
{
	ListCell   *cell;

	if ((query->commandType == CMD_DELETE || query->commandType == CMD_UPDATE) &&
		query->jointree != NULL && query->jointree->quals == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("%s requires a WHERE clause",
						query->commandType == CMD_DELETE ? "DELETE" : "UPDATE")));
	foreach(cell, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, cell);

		if (IsA(cte->ctequery, Query))
			check_query((Query *) cte->ctequery);
	}
}

static void
require_where(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (previous_hook)
		previous_hook(pstate, query, jstate);
	check_query(query);
}

void
_PG_init(void)
{
	previous_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = require_where;
}

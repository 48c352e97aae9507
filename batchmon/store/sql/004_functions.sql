-- The SQL API. One function per Store method; both transports (psycopg and Supabase
-- RPC) call these, so behaviour, RLS and idempotency are defined here once.
-- All are SECURITY INVOKER: row-level security applies to whoever calls them.
-- Errors batchmon raises itself carry their own SQLSTATE:
--   BM001  the batch was already retried (DETAIL holds the id of the retry)
--   BM002  the batch is unknown, or not visible to the caller

-- Signatures of earlier versions of the API, each replaced by one below.
drop function if exists public.pending_batches(), public.recent_poll_runs(integer),
  public.list_batches(integer), public.batch_assets(text, integer);

-- One asset id from text: the UUID it names, or null when it is not a UUID (it cannot
-- match an asset, and a cast error would lose the whole call).
create or replace function public.batchmon_uuid(p_id text) returns uuid
language sql immutable security invoker set search_path = '' as $$
  select case
    when p_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then lower(p_id)::uuid
  end
$$;

-- Valid asset ids from a text array; anything that is not a UUID is dropped.
create or replace function public.batchmon_uuids(p_ids text[]) returns uuid[]
language sql immutable security invoker set search_path = '' as $$
  select coalesce(array_agg(distinct u.id), '{}'::uuid[])
  from unnest(p_ids) as x, lateral (select public.batchmon_uuid(x) as id) as u
  where u.id is not null
$$;

-- The app's tags column may be text[] (what batchmon creates) or jsonb (an array of
-- strings). These overloads, picked by the column's type where a function names it,
-- read and write either. Plain SQL without SET options, so that the planner inlines
-- the text[] ones and the apply pays nothing per row for them.
create or replace function public.batchmon_tags_text(p_tags text[]) returns text[]
language sql immutable security invoker as $$ select p_tags $$;

create or replace function public.batchmon_tags_text(p_tags jsonb) returns text[]
language sql immutable security invoker as $$
  select case when pg_catalog.jsonb_typeof(p_tags) = 'array'
    then array(select pg_catalog.jsonb_array_elements_text(p_tags)) end
$$;

-- New tags, in the type of the column they go to (p_column only picks the overload).
create or replace function public.batchmon_tags_like(p_column text[], p_tags text[]) returns text[]
language sql immutable security invoker as $$ select p_tags $$;

create or replace function public.batchmon_tags_like(p_column jsonb, p_tags text[]) returns jsonb
language sql immutable security invoker as $$ select pg_catalog.to_jsonb(p_tags) $$;

-- Rows per page of every list function. PostgREST (Supabase) returns at most
-- db-max-rows (1,000) rows of a function's result, so no page asks for more and the
-- stores follow the cursor to the end.
create or replace function public.batchmon_page_limit(p_limit integer) returns integer
language sql immutable security invoker set search_path = '' as $$
  select least(greatest(coalesce(p_limit, 1000), 0), 1000)
$$;

-- The keyset predicate of every list of assets, oldest first (created_at, nulls last,
-- then id): is the asset (p_created_at, p_id) past the cursor (p_after_created_at,
-- p_after_id)? No cursor: every asset is. Plain SQL without SET options, so that the
-- planner inlines it into the list's own query and its index choice stays the same.
create or replace function public.batchmon_asset_after(
  p_created_at timestamptz, p_id uuid, p_after_created_at timestamptz, p_after_id text
) returns boolean
language sql immutable security invoker as $$
  select p_after_id is null
    or (coalesce(p_created_at, 'infinity'), p_id)
       > (coalesce(p_after_created_at, 'infinity'), public.batchmon_uuid(p_after_id))
$$;

-- A Unix timestamp from an OpenAI object field (null, absent or 0 -> null).
create or replace function public.batchmon_epoch(v jsonb) returns timestamptz
language sql immutable security invoker set search_path = '' as $$
  select case
    when v is null or jsonb_typeof(v) <> 'number' or (v #>> '{}')::double precision = 0 then null
    else to_timestamp((v #>> '{}')::double precision)
  end
$$;

-- OpenAI's final statuses (batchmon's TERMINAL_STATUSES): nothing changes after them.
-- Plain SQL without SET options, so that the planner inlines it like the tags helpers.
create or replace function public.batchmon_terminal(p_status text) returns boolean
language sql immutable security invoker as $$
  select p_status in ('completed', 'failed', 'expired', 'cancelled')
$$;

-- A stale observation: one that would move a finished batch back to a running status.
create or replace function public.batchmon_stale(p_recorded text, p_observed text) returns boolean
language sql immutable security invoker as $$
  select public.batchmon_terminal(p_recorded) and not public.batchmon_terminal(p_observed)
$$;

-- Each object of a JSON array of OpenAI Batch objects with an id, once: the last one
-- given for its id (a later observation of the same batch is the newer one). Plain SQL
-- without SET options: inlined, the planner sees the array's size and joins the
-- batches it names by their primary key.
create or replace function public.batchmon_latest_batches(p_batches jsonb) returns setof jsonb
language sql immutable security invoker as $$
  select distinct on (e.b ->> 'id') e.b
  from pg_catalog.jsonb_array_elements(p_batches) with ordinality as e(b, n)
  where pg_catalog.jsonb_typeof(e.b) = 'object' and coalesce(e.b ->> 'id', '') <> ''
  order by e.b ->> 'id', e.n desc
$$;

-- The id of an OpenAI Batch object the caller is about to record (p_role names it in
-- the error: "the retry batch has no id").
create or replace function public.batchmon_batch_id(p_batch jsonb, p_role text) returns text
language plpgsql immutable security invoker set search_path = '' as $$
begin
  if coalesce(p_batch ->> 'id', '') = '' then
    raise exception using errcode = '22023', message = format('the %s batch has no id', p_role);
  end if;
  return p_batch ->> 'id';
end
$$;

-- BM002 unless p_found: the object (p_what p_id) is not recorded, or RLS hides it from
-- the caller. Called right after the statement that looked for it, with its FOUND.
create or replace function public.batchmon_require_recorded(
  p_found boolean, p_what text, p_id text, p_hint text default null
) returns void
language plpgsql immutable security invoker set search_path = '' as $$
declare
  v_message text := format('%s %s is not recorded (or belongs to another user)', p_what, p_id);
begin
  if p_found then
    return;
  elsif p_hint is null then
    raise exception using errcode = 'BM002', message = v_message;
  end if;
  raise exception using errcode = 'BM002', message = v_message, hint = p_hint;
end
$$;

-- The seed app's monitoring query: which batches still have pending assets, oldest
-- first. Keyset-paged: pass the last row's (oldest_asset_at, batch_id) for the next page.
create or replace function public.pending_batches(
  p_limit integer default 1000, p_after_oldest timestamptz default null,
  p_after_batch text default null
) returns table (batch_id text, asset_count bigint, oldest_asset_at timestamptz)
language sql stable security invoker set search_path = '' as $$
  select a.openai_batch_id, count(*), min(a.created_at)
  from public.assets a
  where a.auto_tag_status = 'pending' and a.openai_batch_id is not null
  group by a.openai_batch_id
  having p_after_batch is null
    or (coalesce(min(a.created_at), 'infinity'), a.openai_batch_id)
       > (coalesce(p_after_oldest, 'infinity'), p_after_batch)
  order by coalesce(min(a.created_at), 'infinity'), a.openai_batch_id
  limit public.batchmon_page_limit(p_limit)
$$;

-- Upsert live statuses from a JSON array of OpenAI Batch objects. The owner is the
-- signed-in user, or (for server connections) the owner of the batch's assets.
-- A stale observation never moves a finished batch back to a running status.
create or replace function public.record_batch_statuses(p_batches jsonb) returns integer
language plpgsql volatile security invoker set search_path = '' as $$
declare
  n integer;
begin
  if p_batches is null or jsonb_typeof(p_batches) <> 'array' then
    raise exception using errcode = '22023',
      message = 'record_batch_statuses expects a JSON array of OpenAI Batch objects';
  end if;
  insert into public.openai_batches as t (
    id, user_id, status, endpoint, model, total, completed, failed,
    input_file_id, output_file_id, error_file_id, errors, usage, metadata,
    created_at, in_progress_at, finalizing_at, completed_at, failed_at, expired_at,
    cancelling_at, cancelled_at, expires_at, updated_at
  )
  select
    s.b ->> 'id',
    coalesce(
      auth.uid(),
      (select a.user_id from public.assets a
        where a.openai_batch_id = s.b ->> 'id' and a.user_id is not null limit 1)
    ),
    coalesce(s.b ->> 'status', 'unknown'),
    s.b ->> 'endpoint',
    coalesce(s.b ->> 'model', s.b -> 'metadata' ->> 'model'),
    coalesce((s.b -> 'request_counts' ->> 'total')::integer, 0),
    coalesce((s.b -> 'request_counts' ->> 'completed')::integer, 0),
    coalesce((s.b -> 'request_counts' ->> 'failed')::integer, 0),
    nullif(s.b ->> 'input_file_id', ''),
    nullif(s.b ->> 'output_file_id', ''),
    nullif(s.b ->> 'error_file_id', ''),
    case
      when jsonb_typeof(s.b -> 'errors') = 'array' then s.b -> 'errors'
      when jsonb_typeof(s.b -> 'errors' -> 'data') = 'array' then s.b -> 'errors' -> 'data'
    end,
    case when jsonb_typeof(s.b -> 'usage') = 'object' then s.b -> 'usage' end,
    case when jsonb_typeof(s.b -> 'metadata') = 'object' then s.b -> 'metadata' end,
    public.batchmon_epoch(s.b -> 'created_at'),
    public.batchmon_epoch(s.b -> 'in_progress_at'),
    public.batchmon_epoch(s.b -> 'finalizing_at'),
    public.batchmon_epoch(s.b -> 'completed_at'),
    public.batchmon_epoch(s.b -> 'failed_at'),
    public.batchmon_epoch(s.b -> 'expired_at'),
    public.batchmon_epoch(s.b -> 'cancelling_at'),
    public.batchmon_epoch(s.b -> 'cancelled_at'),
    public.batchmon_epoch(s.b -> 'expires_at'),
    now()
  from public.batchmon_latest_batches(p_batches) as s(b)
  on conflict (id) do update set
    user_id = coalesce(t.user_id, excluded.user_id),
    status = excluded.status,
    endpoint = coalesce(excluded.endpoint, t.endpoint),
    model = coalesce(excluded.model, t.model),
    total = excluded.total,
    completed = excluded.completed,
    failed = excluded.failed,
    input_file_id = coalesce(excluded.input_file_id, t.input_file_id),
    output_file_id = coalesce(excluded.output_file_id, t.output_file_id),
    error_file_id = coalesce(excluded.error_file_id, t.error_file_id),
    errors = coalesce(excluded.errors, t.errors),
    usage = coalesce(excluded.usage, t.usage),
    metadata = coalesce(excluded.metadata, t.metadata),
    created_at = coalesce(excluded.created_at, t.created_at),
    in_progress_at = coalesce(excluded.in_progress_at, t.in_progress_at),
    finalizing_at = coalesce(excluded.finalizing_at, t.finalizing_at),
    completed_at = coalesce(excluded.completed_at, t.completed_at),
    failed_at = coalesce(excluded.failed_at, t.failed_at),
    expired_at = coalesce(excluded.expired_at, t.expired_at),
    cancelling_at = coalesce(excluded.cancelling_at, t.cancelling_at),
    cancelled_at = coalesce(excluded.cancelled_at, t.cancelled_at),
    expires_at = coalesce(excluded.expires_at, t.expires_at),
    updated_at = now()
  where not public.batchmon_stale(t.status, excluded.status)
  -- An unchanged batch is not written: each write is a Realtime event to its owner.
  and (t.user_id, t.status, t.endpoint, t.model, t.total, t.completed, t.failed,
       t.input_file_id, t.output_file_id, t.error_file_id, t.errors, t.usage, t.metadata,
       t.created_at, t.in_progress_at, t.finalizing_at, t.completed_at, t.failed_at,
       t.expired_at, t.cancelling_at, t.cancelled_at, t.expires_at)
    is distinct from
      (coalesce(t.user_id, excluded.user_id), excluded.status,
       coalesce(excluded.endpoint, t.endpoint), coalesce(excluded.model, t.model),
       excluded.total, excluded.completed, excluded.failed,
       coalesce(excluded.input_file_id, t.input_file_id),
       coalesce(excluded.output_file_id, t.output_file_id),
       coalesce(excluded.error_file_id, t.error_file_id),
       coalesce(excluded.errors, t.errors), coalesce(excluded.usage, t.usage),
       coalesce(excluded.metadata, t.metadata),
       coalesce(excluded.created_at, t.created_at),
       coalesce(excluded.in_progress_at, t.in_progress_at),
       coalesce(excluded.finalizing_at, t.finalizing_at),
       coalesce(excluded.completed_at, t.completed_at),
       coalesce(excluded.failed_at, t.failed_at),
       coalesce(excluded.expired_at, t.expired_at),
       coalesce(excluded.cancelling_at, t.cancelling_at),
       coalesce(excluded.cancelled_at, t.cancelled_at),
       coalesce(excluded.expires_at, t.expires_at));

  -- Recorded: every observed batch now on record that was not a stale observation of
  -- a finished one (written or unchanged). Its poll goes to the unpublished claims.
  insert into public.batch_claims as k (batch_id, last_polled_at)
  select b.id, now()
  from public.batchmon_latest_batches(p_batches) as s(b)
  join public.openai_batches b on b.id = s.b ->> 'id'
  where not public.batchmon_stale(b.status, coalesce(s.b ->> 'status', 'unknown'))
  on conflict (batch_id) do update set last_polled_at = excluded.last_polled_at;
  get diagnostics n = row_count;
  return n;
end
$$;

-- Lease due batches to one worker. Due: not yet applied, older than p_min_age, not
-- polled within p_interval, and not leased to another worker (or its lease ran out).
-- Batches the app created without recording them (known only from pending assets)
-- first get a row with status 'unknown', so they are claimed like any other.
create or replace function public.claim_due_batches(
  p_worker text, p_min_age interval, p_interval interval, p_lease interval,
  p_limit integer default 10000
) returns setof text
language plpgsql volatile security invoker set search_path = '' as $$
begin
  if coalesce(p_worker, '') = '' then
    raise exception using errcode = '22023', message = 'claim_due_batches needs a worker id';
  end if;
  insert into public.openai_batches (id, user_id, status, created_at)
  select a.openai_batch_id,
         (array_agg(a.user_id) filter (where a.user_id is not null))[1],
         'unknown',
         min(a.created_at)
  from public.assets a
  where a.auto_tag_status = 'pending' and a.openai_batch_id is not null
    and not exists (select 1 from public.openai_batches b where b.id = a.openai_batch_id)
  group by a.openai_batch_id
  on conflict (id) do nothing;

  -- The claim row is what a worker locks: a lease taken by a concurrent worker after
  -- this statement's snapshot is seen again when the lock is granted.
  insert into public.batch_claims (batch_id)
  select b.id from public.openai_batches b
  where b.applied_at is null
    and not exists (select 1 from public.batch_claims k where k.batch_id = b.id)
  on conflict (batch_id) do nothing;

  return query
  with due as (
    select k.batch_id as id, k.last_polled_at, b.created_at
    from public.batch_claims k
    join public.openai_batches b on b.id = k.batch_id
    where b.applied_at is null
      and coalesce(b.created_at, b.updated_at) <= now() - p_min_age
      and (k.last_polled_at is null or k.last_polled_at <= now() - p_interval)
      and (k.claimed_by is null or k.claim_expires_at <= now() or k.claimed_by = p_worker)
      and not exists (  -- a wait recorded by migration 006's set_results_state
        select 1 from public.batch_results_state r
        where r.batch_id = b.id and (r.next_check_at is null or r.next_check_at > now()))
    order by k.last_polled_at nulls first, b.created_at, k.batch_id
    limit p_limit
    for update of k skip locked
  ), claimed as (
    update public.batch_claims k
    set claimed_by = p_worker, claim_expires_at = now() + p_lease
    from due
    where k.batch_id = due.id
    returning k.batch_id
  )
  select d.id from claimed c join due d on d.id = c.batch_id
  order by d.last_polled_at nulls first, d.created_at, d.id;
end
$$;

create or replace function public.release_claims(p_worker text, p_batch_ids text[]) returns integer
language sql volatile security invoker set search_path = '' as $$
  with released as (
    update public.batch_claims
    set claimed_by = null, claim_expires_at = null
    where claimed_by = p_worker and batch_id = any(p_batch_ids)
    returning 1
  )
  select count(*)::integer from released
$$;

-- Staging for bulk apply: a session-local table the PostgresStore fills with COPY and
-- apply_batch_results fills from JSON. Emptied at every commit, so each chunk is staged
-- and applied in a transaction of its own.
create or replace function public.batchmon_apply_stage() returns void
language plpgsql volatile security invoker set search_path = '' as $$
begin
  if to_regclass('pg_temp.batchmon_apply_rows') is null then
    create temp table batchmon_apply_rows (
      seq bigint generated always as identity,
      asset_id uuid,  -- null: the result line named no valid asset id (counted as skipped)
      ok boolean not null,
      tags text[],
      error text
    ) on commit delete rows;
    -- A pooled session may switch roles between calls (PostgREST, the test gateway).
    grant select, insert, delete on pg_temp.batchmon_apply_rows to public;
    -- ANALYZE needs ownership, or (PostgreSQL 17+) MAINTAIN: give it to every role too.
    if current_setting('server_version_num')::integer >= 170000 then
      execute 'grant maintain on pg_temp.batchmon_apply_rows to public';
    end if;
  end if;
end
$$;

-- Apply the staged rows to assets still pending under p_batch, in one UPDATE ... FROM,
-- and append each change to asset_results. Rows for assets already final, of another
-- batch, unknown, or not UUIDs are skipped: applying twice changes nothing.
create or replace function public.apply_staged_results(
  p_batch text
) returns table (completed integer, failed integer, skipped integer)
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_input integer;
  v_completed integer;
  v_failed integer;
begin
  select count(*) into v_input from pg_temp.batchmon_apply_rows;
  -- Temporary tables are never auto-analyzed; without statistics the planner assumes
  -- one staged row and may pick a nested loop that is quadratic in the chunk size.
  -- Only asset_id is joined or filtered on: statistics of the tags arrays and error
  -- texts cost fifteen times as much to gather and change no plan.
  -- Where this role may not (an older server, a session another role started), the
  -- planner's estimate from the table's size stands: no warning, no error.
  if pg_catalog.pg_has_role(
       current_user,
       (select c.relowner from pg_catalog.pg_class c
        where c.oid = 'pg_temp.batchmon_apply_rows'::regclass),
       'USAGE')
     or (current_setting('server_version_num')::integer >= 170000
         and pg_catalog.has_table_privilege('pg_temp.batchmon_apply_rows', 'MAINTAIN')) then
    analyze pg_temp.batchmon_apply_rows (asset_id);
  end if;
  with src as materialized (
    select distinct on (r.asset_id) r.asset_id, r.ok, r.tags, r.error
    from pg_temp.batchmon_apply_rows r
    where r.asset_id is not null
    order by r.asset_id, r.seq
  ), changed as (
    update public.assets a set
      auto_tag_status = case when s.ok then 'completed' else 'failed' end,
      tags = case
        when s.ok then public.batchmon_tags_like(a.tags, coalesce(s.tags, '{}'::text[]))
        else a.tags
      end,
      auto_tag_error = case
        when s.ok then null
        else coalesce(nullif(s.error, ''), 'failed without a reason')
      end,
      tagged_at = case when s.ok then now() else a.tagged_at end
    from src s
    where a.id = s.asset_id and a.openai_batch_id = p_batch and a.auto_tag_status = 'pending'
    returning a.id, a.user_id, a.auto_tag_status, a.auto_tag_error
  ), logged as (
    insert into public.asset_results (asset_id, batch_id, user_id, status, error)
    select c.id, p_batch, c.user_id, c.auto_tag_status, c.auto_tag_error from changed c
    returning status
  )
  select count(*) filter (where l.status = 'completed'),
         count(*) filter (where l.status = 'failed')
  into v_completed, v_failed
  from logged l;
  return query select v_completed, v_failed, v_input - v_completed - v_failed;
end
$$;

-- Apply a chunk of results given as JSON: [{"asset_id", "ok", "tags", "error"}, ...].
create or replace function public.apply_batch_results(
  p_batch text, p_rows jsonb
) returns table (completed integer, failed integer, skipped integer)
language plpgsql volatile security invoker set search_path = '' as $$
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' then
    raise exception using errcode = '22023',
      message = 'apply_batch_results expects a JSON array of {asset_id, ok, tags, error}';
  end if;
  perform public.batchmon_apply_stage();
  -- Rows of an earlier call in this transaction. The WHERE is for pg-safeupdate, which
  -- Supabase preloads for PostgREST's login role and which refuses a DELETE without one.
  delete from pg_temp.batchmon_apply_rows r where r.seq is not null;
  insert into pg_temp.batchmon_apply_rows (asset_id, ok, tags, error)
  select public.batchmon_uuid(r.asset_id), coalesce(r.ok, false), r.tags, r.error
  from jsonb_to_recordset(p_rows) as r(asset_id text, ok boolean, tags text[], error text);
  return query select * from public.apply_staged_results(p_batch);
end
$$;

-- Fail what is still pending under a batch with one reason; set applied_at once.
create or replace function public.finish_batch_apply(
  p_batch text, p_reason text
) returns table (completed integer, failed integer, skipped integer)
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_failed integer;
begin
  with changed as (
    update public.assets a
    set auto_tag_status = 'failed', auto_tag_error = coalesce(nullif(p_reason, ''), 'no result')
    where a.openai_batch_id = p_batch and a.auto_tag_status = 'pending'
    returning a.id, a.user_id, a.auto_tag_error
  ), logged as (
    insert into public.asset_results (asset_id, batch_id, user_id, status, error)
    select c.id, p_batch, c.user_id, 'failed', c.auto_tag_error from changed c
    returning 1
  )
  select count(*) into v_failed from logged;
  update public.openai_batches
  set applied_at = now(), updated_at = now()
  where id = p_batch and applied_at is null;
  return query select 0, v_failed, 0;
end
$$;

-- A batch that produced no output at all (failed validation): every pending asset fails.
create or replace function public.mark_batch_failed(
  p_batch text, p_reason text
) returns table (completed integer, failed integer, skipped integer)
language sql volatile security invoker set search_path = '' as $$
  select * from public.finish_batch_apply(p_batch, p_reason)
$$;

-- A newly created batch: record it and point its assets at it as pending.
create or replace function public.mark_batch_submitted(
  p_batch jsonb, p_asset_ids text[]
) returns integer
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_id text := public.batchmon_batch_id(p_batch, 'submitted');
  n integer;
begin
  perform public.record_batch_statuses(jsonb_build_array(p_batch));
  -- An asset already pending in another batch stays there: a concurrent submit of the
  -- same assets must not take them from the batch that will deliver their results.
  update public.assets
  set openai_batch_id = v_id, auto_tag_status = 'pending', auto_tag_error = null
  where id = any(public.batchmon_uuids(p_asset_ids))
    and not (auto_tag_status = 'pending' and openai_batch_id is distinct from v_id
             and openai_batch_id is not null
             and not public.batchmon_batch_gone(openai_batch_id));  -- unless gone (006)
  get diagnostics n = row_count;
  -- A server connection records the batch without an owner: it is its assets' owner.
  -- No owner found, no write (an unchanged row would still be streamed by Realtime).
  update public.openai_batches b
  set user_id = o.user_id
  from (select a.user_id from public.assets a
        where a.openai_batch_id = v_id and a.user_id is not null limit 1) o
  where b.id = v_id and b.user_id is null;
  return n;
end
$$;

-- Retry: record the new batch, link old <-> new, and re-point the given assets of the
-- old batch (not those already completed) to the new one, all in one transaction.
-- The old row is locked first, so of two concurrent retries exactly one links.
-- Repeating the same retry (same new id) is a no-op; a different one raises BM001.
create or replace function public.begin_batch_retry(
  p_old_batch text, p_new_batch jsonb, p_asset_ids text[]
) returns table (linked boolean, moved_assets integer, existing_retry text)
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_old public.openai_batches;
  v_new text := public.batchmon_batch_id(p_new_batch, 'retry');
  n integer;
begin
  if v_new = p_old_batch then
    raise exception using errcode = '22023',
      message = format('batch %s cannot be a retry of itself', p_old_batch);
  end if;
  select * into v_old from public.openai_batches where id = p_old_batch for update;
  perform public.batchmon_require_recorded(found, 'batch', p_old_batch,
    'sync the batch first so its status is recorded, then retry it');
  if v_old.retried_by is not null then
    if v_old.retried_by = v_new then
      return query select false, 0, v_new;
      return;
    end if;
    raise exception using errcode = 'BM001',
      message = format('batch %s was already retried as %s', p_old_batch, v_old.retried_by),
      detail = v_old.retried_by,
      hint = 'follow the newer batch instead of retrying this one again';
  end if;
  perform public.record_batch_statuses(jsonb_build_array(p_new_batch));
  update public.openai_batches
  set retry_of = p_old_batch,
      attempt = v_old.attempt + 1,
      user_id = coalesce(user_id, v_old.user_id),
      updated_at = now()
  where id = v_new;
  update public.openai_batches set retried_by = v_new, updated_at = now() where id = p_old_batch;
  update public.assets
  set openai_batch_id = v_new, auto_tag_status = 'pending', auto_tag_error = null
  where id = any(public.batchmon_uuids(p_asset_ids))
    and openai_batch_id = p_old_batch
    and auto_tag_status is distinct from 'completed';
  get diagnostics n = row_count;
  return query select true, n, null::text;
end
$$;

create or replace function public.record_poll_run(
  p_worker text, p_started_at timestamptz, p_finished_at timestamptz, p_checked integer,
  p_applied integer, p_failed integer, p_error text
) returns bigint
language sql volatile security invoker set search_path = '' as $$
  insert into public.batch_poll_runs
    (worker_id, started_at, finished_at, checked, applied, failed, error)
  values (p_worker, p_started_at, p_finished_at, p_checked, p_applied, p_failed, p_error)
  returning id
$$;

-- Newest first; keyset-paged: pass the last row's (started_at, id) for the next page.
create or replace function public.recent_poll_runs(
  p_limit integer default 20, p_before_started_at timestamptz default null,
  p_before_id bigint default null
) returns setof public.batch_poll_runs
language sql stable security invoker set search_path = '' as $$
  select * from public.batch_poll_runs r
  where p_before_id is null or (r.started_at, r.id) < (p_before_started_at, p_before_id)
  order by r.started_at desc, r.id desc
  limit public.batchmon_page_limit(p_limit)
$$;

-- Batches with their asset counts: the desktop's table and the detail pane.
create or replace view public.batch_overview with (security_invoker = true) as
  select b.*, coalesce(c.asset_count, 0) as asset_count, coalesce(c.pending_assets, 0)
    as pending_assets, k.last_polled_at
  from public.openai_batches b
  left join public.batch_claims k on k.batch_id = b.id
  left join lateral (
    select count(*) as asset_count,
           count(*) filter (where a.auto_tag_status = 'pending') as pending_assets
    from public.assets a
    where a.openai_batch_id = b.id
  ) c on true;

-- Newest first; keyset-paged: pass the last row's (created_at, id) for the next page.
create or replace function public.list_batches(
  p_limit integer default 1000, p_after_created_at timestamptz default null,
  p_after_id text default null
) returns setof public.batch_overview
language sql stable security invoker set search_path = '' as $$
  select * from public.batch_overview b
  where p_after_id is null
    or coalesce(b.created_at, '-infinity') < coalesce(p_after_created_at, '-infinity')
    or (coalesce(b.created_at, '-infinity') = coalesce(p_after_created_at, '-infinity')
        and b.id > p_after_id)
  order by b.created_at desc nulls last, b.id
  limit public.batchmon_page_limit(p_limit)
$$;

create or replace function public.get_batch(p_batch text) returns setof public.batch_overview
language sql stable security invoker set search_path = '' as $$
  select * from public.batch_overview where id = p_batch
$$;

-- When the caller's batches last changed (null: no batch). A row is written only when
-- something a person cares about changed, so the desktop compares this once per poll
-- interval and lists its batches again only when it moved: a change Realtime dropped
-- is found without listing every batch each time.
create or replace function public.last_batch_change() returns timestamptz
language sql stable security invoker set search_path = '' as $$
  select max(b.updated_at) from public.openai_batches b
$$;

-- One asset as the API returns it (the Store's AssetRow): declared once for every
-- function that returns assets.
drop function if exists public.batch_assets(text, integer, timestamptz, text);
drop function if exists public.assets_by_ids(text[]);
drop type if exists public.batchmon_asset;
create type public.batchmon_asset as (
  id text, user_id text, image_url text, status text, batch_id text, tags text[],
  error text, created_at timestamptz, tagged_at timestamptz
);

-- Oldest first; keyset-paged: pass the last row's (created_at, id) for the next page.
create or replace function public.batch_assets(
  p_batch text, p_limit integer default 1000, p_after_created_at timestamptz default null,
  p_after_id text default null
) returns setof public.batchmon_asset
language sql stable security invoker set search_path = '' as $$
  select a.id::text, a.user_id::text, a.image_url, a.auto_tag_status, a.openai_batch_id,
         public.batchmon_tags_text(a.tags), a.auto_tag_error, a.created_at, a.tagged_at
  from public.assets a
  where a.openai_batch_id = p_batch
    and public.batchmon_asset_after(a.created_at, a.id, p_after_created_at, p_after_id)
  order by coalesce(a.created_at, 'infinity'), a.id
  limit public.batchmon_page_limit(p_limit)
$$;

create or replace function public.assets_by_ids(p_ids text[]) returns setof public.batchmon_asset
language sql stable security invoker set search_path = '' as $$
  select a.id::text, a.user_id::text, a.image_url, a.auto_tag_status, a.openai_batch_id,
         public.batchmon_tags_text(a.tags), a.auto_tag_error, a.created_at, a.tagged_at
  from public.assets a
  where a.id = any(public.batchmon_uuids(p_ids))
  order by a.created_at, a.id
$$;

-- The ids of a batch's assets, and nothing else: apply needs them to tell a line for an
-- asset of this batch from a stray one, and reading whole rows for that cost it more
-- than the update itself. One array value, not a set of rows, so PostgREST's row limit
-- (max-rows) never truncates it.
create or replace function public.batch_asset_ids(p_batch text) returns text[]
language sql stable security invoker set search_path = '' as $$
  select coalesce(array_agg(a.id::text), '{}'::text[])
  from public.assets a
  where a.openai_batch_id = p_batch
$$;

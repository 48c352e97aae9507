-- Jobs: any amount of work, split into planned batches that a queue submits while the
-- model's enqueued-token limit has room. OpenAI refuses a batch that would pass the
-- limit (token_limit_exceeded) instead of holding it, so the queue lives here.
--
--   batchmon_jobs          one row per job: its model, endpoint, attempts and budget
--   batchmon_job_batches   the planned batches, in order (ordinal) within their job;
--                          state planning -> queued -> submitting -> submitted -> done,
--                          refused (back to the queue after next_attempt_at) or cancelled
--   batchmon_model_limits  each model's enqueued-token limit, configured or learned
--                          from a refusal's message ("Limit: N enqueued tokens")
--
-- The image size a job is planned with, and the functions that take or return it
-- (create_job, ended_job_batches, job_summaries and get_job), follow in
-- 010_job_image_size.sql.

create table if not exists public.batchmon_jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  model text not null,
  endpoint text not null,
  status text not null default 'running'
    check (status in ('planning', 'running', 'done', 'cancelled')),
  attempts_allowed integer not null default 2 check (attempts_allowed >= 1),
  max_cost double precision check (max_cost is null or max_cost >= 0),
  estimated_cost double precision not null default 0,
  actual_cost double precision not null default 0,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  last_submitted_at timestamptz,
  updated_at timestamptz not null default now()
);

create table if not exists public.batchmon_job_batches (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.batchmon_jobs (id) on delete cascade,
  user_id uuid,
  ordinal integer not null,
  attempt integer not null default 1,  -- 1: first plan; 2..: a remainder planned again
  asset_ids uuid[] not null default '{}',
  request_count integer not null default 0,
  bytes bigint not null default 0,
  estimated_tokens bigint not null default 0,
  estimated_cost double precision,
  actual_cost double precision,
  state text not null default 'planning' check (state in (
    'planning', 'queued', 'submitting', 'submitted', 'done', 'refused', 'cancelled')),
  next_attempt_at timestamptz,
  attempts integer not null default 0,  -- submissions so far (a refusal counts one)
  retry_token text,
  input_file_id text,  -- uploaded for this token; a create with it may have happened
  uploaded_at bigint,  -- the upload's created_at, in the API's clock
  openai_batch_id text,
  previous_batch_ids text[] not null default '{}',  -- refused earlier submissions
  claimed_by text,
  claim_expires_at timestamptz,
  note text,
  created_at timestamptz not null default now(),
  submitted_at timestamptz,
  finished_at timestamptz,
  unique (job_id, ordinal)
);

create table if not exists public.batchmon_model_limits (
  model text primary key,
  enqueued_token_limit bigint not null check (enqueued_token_limit > 0),
  source text not null check (source in ('configured', 'learned')),
  learned_at timestamptz,
  updated_at timestamptz not null default now()
);

create index if not exists batchmon_jobs_created_idx on public.batchmon_jobs (created_at desc, id);
create index if not exists batchmon_job_batches_live_idx on public.batchmon_job_batches (state)
  where state in ('planning', 'queued', 'refused', 'submitting', 'submitted');
create index if not exists batchmon_job_batches_openai_idx
  on public.batchmon_job_batches (openai_batch_id);

-- Row-level security like batches: a signed-in user sees and changes only their jobs.
-- A model's limit belongs to the organisation behind the API key, which every user of
-- one batchmon database shares, so every signed-in user reads and records it.
alter table public.batchmon_jobs enable row level security;
alter table public.batchmon_job_batches enable row level security;
alter table public.batchmon_model_limits enable row level security;

drop policy if exists batchmon_jobs_own on public.batchmon_jobs;
create policy batchmon_jobs_own on public.batchmon_jobs
  for all to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());
drop policy if exists batchmon_job_batches_own on public.batchmon_job_batches;
create policy batchmon_job_batches_own on public.batchmon_job_batches
  for all to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());
drop policy if exists batchmon_model_limits_shared on public.batchmon_model_limits;
create policy batchmon_model_limits_shared on public.batchmon_model_limits
  for all to authenticated using (true) with check (true);

-- Every batch of the job is stored: the queue may submit them. False when the job is
-- not being planned (already started, or cancelled).
create or replace function public.start_job(p_job uuid) returns boolean
language plpgsql volatile security invoker set search_path = '' as $$
begin
  update public.batchmon_jobs j
  set status = 'running', updated_at = now()
  where j.id = p_job and j.status = 'planning';
  if found then
    perform public.batchmon_close_job(p_job);  -- a job with nothing to send is done
  end if;
  return found;
end
$$;

-- One planned batch at the end of its job, with the first page of its asset ids.
-- p_complete: every id is in; the batch is queued. Otherwise extend_job_batch adds the
-- rest (a 50,000-asset batch goes in pages) and the last page queues it.
create or replace function public.add_job_batch(
  p_job uuid, p_attempt integer, p_request_count integer, p_bytes bigint, p_tokens bigint,
  p_cost double precision, p_asset_ids text[], p_complete boolean
) returns bigint
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_job public.batchmon_jobs;
  v_id bigint;
begin
  select * into v_job from public.batchmon_jobs j where j.id = p_job for update;
  perform public.batchmon_require_recorded(found, 'job', p_job::text);
  insert into public.batchmon_job_batches as b (
    job_id, user_id, ordinal, attempt, asset_ids, request_count, bytes, estimated_tokens,
    estimated_cost, state
  )
  values (
    p_job, v_job.user_id,
    coalesce((select max(o.ordinal) from public.batchmon_job_batches o where o.job_id = p_job), 0) + 1,
    coalesce(p_attempt, 1), public.batchmon_uuids(p_asset_ids), p_request_count, p_bytes,
    p_tokens, p_cost, case when p_complete then 'queued' else 'planning' end
  )
  returning b.id into v_id;
  update public.batchmon_jobs j
  set estimated_cost = j.estimated_cost + coalesce(p_cost, 0), updated_at = now()
  where j.id = p_job;
  return v_id;
end
$$;

-- More asset ids for a batch still being planned; p_complete queues it. Returns its ids.
create or replace function public.extend_job_batch(
  p_job_batch bigint, p_asset_ids text[], p_complete boolean
) returns integer
language plpgsql volatile security invoker set search_path = '' as $$
declare
  n integer;
begin
  update public.batchmon_job_batches b
  set asset_ids = b.asset_ids || public.batchmon_uuids(p_asset_ids),
      state = case when p_complete then 'queued' else 'planning' end
  where b.id = p_job_batch and b.state = 'planning'
  returning cardinality(b.asset_ids) into n;
  if n is null then
    raise exception using errcode = 'BM002',
      message = format('job batch %s is not being planned (or belongs to another user)',
                       p_job_batch);
  end if;
  return n;
end
$$;

-- A planned batch as the submitter needs it.
drop type if exists public.batchmon_job_batch cascade;
create type public.batchmon_job_batch as (
  id bigint, job_id uuid, user_id text, model text, endpoint text, ordinal integer,
  attempt integer, attempts integer, asset_ids text[], request_count integer, bytes bigint,
  estimated_tokens bigint, estimated_cost double precision, state text, retry_token text,
  openai_batch_id text, job_created_at timestamptz, input_file_id text, uploaded_at bigint
);

-- The model's enqueued-token limit: a stored one (configured or learned), else the
-- default the caller passes (p_defaults: {"model": tokens}); null when none is known.
create or replace function public.batchmon_token_limit(
  p_model text, p_defaults jsonb
) returns bigint
language sql stable security invoker set search_path = '' as $$
  select coalesce(
    (select l.enqueued_token_limit from public.batchmon_model_limits l where l.model = p_model),
    case when jsonb_typeof(p_defaults -> p_model) = 'number'
      then (p_defaults ->> p_model)::bigint end
  )
$$;

-- Estimated tokens of the model's batches in OpenAI's queue: those being created and
-- those created and not yet seen to end.
create or replace function public.batchmon_tokens_enqueued(p_model text) returns bigint
language sql stable security invoker set search_path = '' as $$
  select coalesce(sum(b.estimated_tokens), 0)::bigint
  from public.batchmon_job_batches b
  join public.batchmon_jobs j on j.id = b.job_id
  where b.state in ('submitting', 'submitted') and j.model = p_model
$$;

-- Lease the next batch to submit, or none. A job's batches go in order (only its lowest
-- unsubmitted one is a candidate); across jobs the owner with the fewest batches in
-- flight goes first, then the job that submitted least recently. A candidate must fit:
-- the model's tokens in flight plus its own within the limit (an empty queue takes any
-- batch), and the job's estimated cost so far plus its own within max_cost. A batch
-- whose submitter vanished (lease run out) is taken over with the same retry token, so
-- the batch it may have created is found and not made twice. Claims are taken one at a
-- time under a transaction lock: two workers never both see the same headroom.
create or replace function public.claim_job_batch(
  p_worker text, p_lease interval, p_defaults jsonb default '{}'::jsonb
) returns setof public.batchmon_job_batch
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_id bigint;
begin
  if coalesce(p_worker, '') = '' then
    raise exception using errcode = '22023', message = 'claim_job_batch needs a worker id';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('batchmon_job_claims'));
  with heads as (
    select distinct on (b.job_id) b.id, b.job_id, b.state, b.next_attempt_at,
           b.estimated_tokens, b.estimated_cost, b.claim_expires_at
    from public.batchmon_job_batches b
    join public.batchmon_jobs j on j.id = b.job_id
    where j.status = 'running'
      and (b.state in ('planning', 'queued', 'refused')
           or (b.state = 'submitting' and b.claim_expires_at <= now()))
    order by b.job_id, b.ordinal
  ), candidates as (
    select h.id, j.user_id, j.last_submitted_at, j.created_at
    from heads h
    join public.batchmon_jobs j on j.id = h.job_id
    cross join lateral (
      select public.batchmon_token_limit(j.model, p_defaults) as token_limit,
             public.batchmon_tokens_enqueued(j.model)
               - case when h.state = 'submitting' then h.estimated_tokens else 0 end as enqueued
    ) q
    where h.state <> 'planning'
      and coalesce(h.next_attempt_at, '-infinity') <= now()
      and (q.token_limit is null or q.enqueued = 0
           or q.enqueued + h.estimated_tokens <= q.token_limit)
      and (j.max_cost is null or coalesce(h.estimated_cost, 0) + coalesce((
             select sum(o.estimated_cost) from public.batchmon_job_batches o
             where o.job_id = j.id and o.id <> h.id
               and o.state in ('submitting', 'submitted', 'done')), 0) <= j.max_cost)
  ), ranked as (
    select c.id,
           (select count(*) from public.batchmon_job_batches f
            where f.user_id is not distinct from c.user_id
              and f.state in ('submitting', 'submitted')) as owner_in_flight,
           c.last_submitted_at, c.created_at
    from candidates c
  )
  select b.id into v_id
  from public.batchmon_job_batches b
  join ranked r on r.id = b.id
  order by r.owner_in_flight, r.last_submitted_at nulls first, r.created_at, b.id
  limit 1
  for update of b skip locked;
  if v_id is null then
    return;
  end if;
  update public.batchmon_job_batches b
  set attempts = case when b.state = 'submitting' then b.attempts else b.attempts + 1 end,
      retry_token = case when b.state = 'submitting' then b.retry_token
                         else format('jb_%s_%s', b.id, b.attempts + 1) end,
      input_file_id = case when b.state = 'submitting' then b.input_file_id end,
      uploaded_at = case when b.state = 'submitting' then b.uploaded_at end,
      state = 'submitting', claimed_by = p_worker, claim_expires_at = now() + p_lease
  where b.id = v_id;
  update public.batchmon_jobs j set last_submitted_at = now()
  where j.id = (select b.job_id from public.batchmon_job_batches b where b.id = v_id);
  return query select * from public.get_job_batch(v_id);
end
$$;

-- One planned batch with its job's model and endpoint.
create or replace function public.get_job_batch(
  p_job_batch bigint
) returns setof public.batchmon_job_batch
language sql stable security invoker set search_path = '' as $$
  select b.id, b.job_id, j.user_id::text, j.model, j.endpoint, b.ordinal, b.attempt,
         b.attempts, b.asset_ids::text[], b.request_count, b.bytes, b.estimated_tokens,
         b.estimated_cost, b.state, b.retry_token, b.openai_batch_id, j.created_at,
         b.input_file_id, b.uploaded_at
  from public.batchmon_job_batches b
  join public.batchmon_jobs j on j.id = b.job_id
  where b.id = p_job_batch
$$;

-- The input file uploaded for the batch's current retry token, recorded before the
-- create: a submitter taking over after a crash looks for a batch made from it.
create or replace function public.record_job_batch_upload(
  p_job_batch bigint, p_worker text, p_file_id text, p_uploaded_at bigint
) returns boolean
language plpgsql volatile security invoker set search_path = '' as $$
begin
  update public.batchmon_job_batches b
  set input_file_id = p_file_id, uploaded_at = p_uploaded_at
  where b.id = p_job_batch and b.state = 'submitting' and b.claimed_by = p_worker;
  return found;
end
$$;

-- The batch OpenAI created for a planned batch: record it and point the assets at it as
-- pending, in one transaction. An asset pending in a live batch of someone else stays
-- there; one pending under this planned batch's refused submissions moves. Repeating it
-- changes nothing. A job cancelled meanwhile still gets the batch recorded (nothing is
-- lost); `cancelled` tells the caller to cancel it at OpenAI.
create or replace function public.record_job_batch_created(
  p_job_batch bigint, p_batch jsonb
) returns table (moved integer, cancelled boolean)
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_row public.batchmon_job_batches;
  v_id text := public.batchmon_batch_id(p_batch, 'created');
  n integer;
begin
  select * into v_row from public.batchmon_job_batches b where b.id = p_job_batch for update;
  perform public.batchmon_require_recorded(found, 'job batch', p_job_batch::text);
  if v_row.openai_batch_id is not null and v_row.openai_batch_id <> v_id then
    raise exception using errcode = '22023',
      message = format('job batch %s was already submitted as %s', p_job_batch,
                       v_row.openai_batch_id);
  end if;
  perform public.record_batch_statuses(jsonb_build_array(p_batch));
  -- The job's owner, when it has one (no write otherwise: Realtime streams any update).
  update public.openai_batches ob set user_id = v_row.user_id
  where ob.id = v_id and ob.user_id is null and v_row.user_id is not null;
  update public.assets a
  set openai_batch_id = v_id, auto_tag_status = 'pending', auto_tag_error = null
  where a.id = any(v_row.asset_ids)
    and a.auto_tag_status is distinct from 'completed'
    and (a.auto_tag_status is distinct from 'pending' or a.openai_batch_id is null
         or a.openai_batch_id = v_id or a.openai_batch_id = any(v_row.previous_batch_ids)
         or public.batchmon_batch_gone(a.openai_batch_id));
  get diagnostics n = row_count;
  update public.batchmon_job_batches b
  set openai_batch_id = v_id,
      state = case when b.state = 'cancelled' then 'cancelled' else 'submitted' end,
      submitted_at = coalesce(b.submitted_at, now()), claimed_by = null, claim_expires_at = null
  where b.id = p_job_batch;
  return query select n, v_row.state = 'cancelled';
end
$$;

-- OpenAI refused the batch for lack of queue room: back to the queue after p_retry_in_s.
-- The refused batch is left alone by the worker from now on (its assets wait for the
-- next submission, which takes them over).
create or replace function public.record_job_batch_refused(
  p_job_batch bigint, p_note text, p_retry_in_s double precision
) returns boolean
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_refused text;
begin
  update public.batchmon_job_batches b
  set previous_batch_ids = b.previous_batch_ids || b.openai_batch_id,
      openai_batch_id = null,
      state = 'refused',
      note = p_note,
      next_attempt_at = now() + make_interval(secs => greatest(coalesce(p_retry_in_s, 0), 0))
  where b.id = p_job_batch and b.state = 'submitted' and b.openai_batch_id is not null
  returning b.previous_batch_ids[cardinality(b.previous_batch_ids)] into v_refused;
  if v_refused is null then
    return false;
  end if;
  insert into public.batch_results_state as r (batch_id, state, note, next_check_at)
  values (v_refused, 'resubmitted', p_note, null)
  on conflict (batch_id) do update
    set state = 'resubmitted', note = excluded.note, next_check_at = null, updated_at = now();
  return true;
end
$$;

-- A refused batch too big for the limit just learned, split: it keeps the first part
-- (and its place in the job), the other parts follow at the end of the job. Every part
-- may take its assets over from the refused submissions. p_parts: [{"asset_ids": [...],
-- "bytes": n, "tokens": n, "cost": x}, ...]. Returns the parts now planned.
create or replace function public.split_job_batch(p_job_batch bigint, p_parts jsonb) returns integer
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_row public.batchmon_job_batches;
  v_part jsonb;
  v_ids text[];
  v_new bigint;
  n integer := 0;
begin
  if p_parts is null or jsonb_typeof(p_parts) <> 'array' or jsonb_array_length(p_parts) = 0 then
    raise exception using errcode = '22023',
      message = 'split_job_batch expects a JSON array of parts';
  end if;
  select * into v_row from public.batchmon_job_batches b
  where b.id = p_job_batch and b.state = 'refused' for update;
  if not found then
    return 0;
  end if;
  for v_part in select e.p from jsonb_array_elements(p_parts) as e(p) loop
    v_ids := array(select jsonb_array_elements_text(v_part -> 'asset_ids'));
    n := n + 1;
    if n = 1 then
      update public.batchmon_job_batches b
      set asset_ids = public.batchmon_uuids(v_ids), request_count = cardinality(v_ids),
          bytes = (v_part ->> 'bytes')::bigint, estimated_tokens = (v_part ->> 'tokens')::bigint,
          estimated_cost = (v_part ->> 'cost')::double precision
      where b.id = p_job_batch;
    else
      v_new := public.add_job_batch(
        v_row.job_id, v_row.attempt, cardinality(v_ids), (v_part ->> 'bytes')::bigint,
        (v_part ->> 'tokens')::bigint, (v_part ->> 'cost')::double precision, v_ids, true);
      update public.batchmon_job_batches b
      set previous_batch_ids = v_row.previous_batch_ids
      where b.id = v_new;
    end if;
  end loop;
  -- add_job_batch counted the parts' cost once more: the job's estimate stays the sum.
  update public.batchmon_jobs j
  set estimated_cost = (select coalesce(sum(b.estimated_cost), 0)
                        from public.batchmon_job_batches b where b.job_id = j.id)
  where j.id = v_row.job_id;
  return n;
end
$$;

-- A batch whose results are applied: done, with its actual cost. Its remainder (the
-- retryable failures and expired requests, p_retry_ids) becomes one new planned batch
-- at the end of the job when attempts are left; the rest stay failed with their
-- reasons. The job is done once nothing of it is left to submit or to finish.
-- Repeating it changes nothing. Returns the new batch's id, if one was planned.
create or replace function public.finish_job_batch(
  p_job_batch bigint, p_actual_cost double precision, p_retry_ids text[], p_retry_bytes bigint,
  p_retry_tokens bigint, p_retry_cost double precision
) returns bigint
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_row public.batchmon_job_batches;
  v_job public.batchmon_jobs;
  v_new bigint;
begin
  select * into v_row from public.batchmon_job_batches b
  where b.id = p_job_batch and b.finished_at is null and b.state in ('submitted', 'cancelled')
  for update;
  if not found then
    return null;
  end if;
  select * into v_job from public.batchmon_jobs j where j.id = v_row.job_id for update;
  update public.batchmon_job_batches b
  set state = case when b.state = 'cancelled' then 'cancelled' else 'done' end,
      finished_at = now(), actual_cost = p_actual_cost
  where b.id = p_job_batch;
  update public.batchmon_jobs j
  set actual_cost = j.actual_cost + coalesce(p_actual_cost, 0), updated_at = now()
  where j.id = v_job.id;
  if v_job.status = 'running' and v_row.attempt < v_job.attempts_allowed
     and cardinality(public.batchmon_uuids(p_retry_ids)) > 0 then
    v_new := public.add_job_batch(
      v_job.id, v_row.attempt + 1, cardinality(public.batchmon_uuids(p_retry_ids)),
      p_retry_bytes, p_retry_tokens, p_retry_cost, p_retry_ids, true);
  end if;
  perform public.batchmon_close_job(v_job.id);
  return v_new;
end
$$;

-- Done once no batch of it is planned, queued, in flight or unsettled.
create or replace function public.batchmon_close_job(p_job uuid) returns void
language sql volatile security invoker set search_path = '' as $$
  update public.batchmon_jobs j
  set status = case when j.status = 'running' then 'done' else j.status end,
      finished_at = coalesce(j.finished_at, now()), updated_at = now()
  where j.id = p_job and j.finished_at is null
    and not exists (
      select 1 from public.batchmon_job_batches b
      where b.job_id = p_job
        and (b.state in ('planning', 'queued', 'refused', 'submitting', 'submitted')
             or (b.state = 'cancelled' and b.openai_batch_id is not null
                 and b.finished_at is null)))
$$;

-- Record a model's limit: 'learned' from a refusal, or 'configured' by a person.
create or replace function public.set_model_limit(
  p_model text, p_limit bigint, p_source text
) returns void
language plpgsql volatile security invoker set search_path = '' as $$
begin
  if coalesce(p_model, '') = '' or coalesce(p_limit, 0) <= 0 then
    raise exception using errcode = '22023',
      message = 'a model limit needs a model and a positive number of tokens';
  end if;
  if p_source not in ('configured', 'learned') then
    raise exception using errcode = '22023',
      message = format('a model limit is configured or learned, not %s', p_source);
  end if;
  insert into public.batchmon_model_limits as l (model, enqueued_token_limit, source, learned_at)
  values (p_model, p_limit, p_source, case when p_source = 'learned' then now() end)
  on conflict (model) do update
    set enqueued_token_limit = excluded.enqueued_token_limit, source = excluded.source,
        learned_at = coalesce(excluded.learned_at, l.learned_at), updated_at = now();
end
$$;

-- Each model's stored limit with the estimated tokens its batches hold in the queue.
-- Keyset-paged by model.
create or replace function public.model_limits(
  p_limit integer default 1000, p_after_model text default null
) returns table (
  model text, enqueued_token_limit bigint, source text, learned_at timestamptz,
  tokens_enqueued bigint
)
language sql stable security invoker set search_path = '' as $$
  select l.model, l.enqueued_token_limit, l.source, l.learned_at,
         public.batchmon_tokens_enqueued(l.model)
  from public.batchmon_model_limits l
  where p_after_model is null or l.model > p_after_model
  order by l.model
  limit public.batchmon_page_limit(p_limit)
$$;

-- A job's planned batches in order (asset ids left out: up to 50,000 each).
-- Keyset-paged by ordinal.
create or replace function public.job_batches(
  p_job uuid, p_limit integer default 1000, p_after_ordinal integer default null
) returns setof public.batchmon_job_batch
language sql stable security invoker set search_path = '' as $$
  select b.id, b.job_id, j.user_id::text, j.model, j.endpoint, b.ordinal, b.attempt,
         b.attempts, '{}'::text[], b.request_count, b.bytes, b.estimated_tokens,
         b.estimated_cost, b.state, b.retry_token, b.openai_batch_id, j.created_at,
         b.input_file_id, b.uploaded_at
  from public.batchmon_job_batches b
  join public.batchmon_jobs j on j.id = b.job_id
  where b.job_id = p_job and (p_after_ordinal is null or b.ordinal > p_after_ordinal)
  order by b.ordinal
  limit public.batchmon_page_limit(p_limit)
$$;

-- Cancel a job: batches not yet created are dropped (their assets keep their state);
-- returns the OpenAI batches still running, which the caller cancels at OpenAI (their
-- results are applied as they end: nothing is lost).
create or replace function public.cancel_job(
  p_job uuid
) returns table (dropped integer, running text[])
language plpgsql volatile security invoker set search_path = '' as $$
declare
  n integer;
begin
  update public.batchmon_jobs j
  set status = 'cancelled', updated_at = now()
  where j.id = p_job and j.status in ('planning', 'running');
  perform public.batchmon_require_recorded(
    found or exists (select 1 from public.batchmon_jobs j where j.id = p_job), 'job', p_job::text);
  update public.batchmon_job_batches b
  set state = 'cancelled', finished_at = now()
  where b.job_id = p_job and b.state in ('planning', 'queued', 'refused');
  get diagnostics n = row_count;
  update public.batchmon_job_batches b
  set state = 'cancelled'
  where b.job_id = p_job and b.state in ('submitting', 'submitted');
  perform public.batchmon_close_job(p_job);
  return query
    select n, coalesce(array_agg(b.openai_batch_id order by b.ordinal), '{}'::text[])
    from public.batchmon_job_batches b
    where b.job_id = p_job and b.state = 'cancelled' and b.openai_batch_id is not null
      and b.finished_at is null;
end
$$;

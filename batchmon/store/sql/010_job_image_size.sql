-- The image size a job is planned with (`batchmon submit --image-size WxH`): every image
-- of the job is counted at that size instead of the costliest one. The job keeps it, so
-- the submitter estimates a remainder planned again after failures, and a refused batch
-- split under a learned limit, as the first plan did. Null: the size is not known, and
-- each image counts as the costliest (docs/jobs.md, "Images").
--
-- The functions that take or return it live here, after the column: create_job,
-- ended_job_batches, and the job summary (job_summaries, get_job).

alter table public.batchmon_jobs add column if not exists image_size integer[]
  constraint batchmon_jobs_image_size_check check (
    image_size is null
    or coalesce(array_ndims(image_size) = 1 and cardinality(image_size) = 2
                and 0 < all(image_size), false));

-- A new job, still empty: its batches follow with add_job_batch. With p_planning the
-- queue leaves it alone until start_job opens it, once every batch is in (a plan that
-- fails half-way is cancelled, never half sent). The owner is the signed-in user, or (for
-- server connections) p_owner. p_image_size: {width, height} of every image, or null.
-- The signature without p_image_size is dropped: a call naming only the older
-- parameters would otherwise match both.
drop function if exists public.create_job(text, text, integer, double precision, uuid, boolean);
create or replace function public.create_job(
  p_model text, p_endpoint text, p_attempts integer, p_max_cost double precision,
  p_owner uuid default null, p_planning boolean default false,
  p_image_size integer[] default null
) returns uuid
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_id uuid;
begin
  if coalesce(p_model, '') = '' or coalesce(p_endpoint, '') = '' then
    raise exception using errcode = '22023', message = 'a job needs a model and an endpoint';
  end if;
  insert into public.batchmon_jobs (
    user_id, model, endpoint, attempts_allowed, max_cost, status, image_size
  )
  values (coalesce(auth.uid(), p_owner), p_model, p_endpoint, coalesce(p_attempts, 2), p_max_cost,
          case when p_planning then 'planning' else 'running' end, p_image_size)
  returning id into v_id;
  return v_id;
end
$$;

-- Submitted batches whose OpenAI batch has ended (as last recorded): the submitter
-- settles them, estimating what it plans again at the job's image size. Oldest first,
-- keyset-paged by id. Dropped first: a function's result columns cannot change in place.
drop function if exists public.ended_job_batches(integer, bigint);
create or replace function public.ended_job_batches(
  p_limit integer default 1000, p_after_id bigint default null
) returns table (
  id bigint, job_id uuid, attempt integer, attempts integer, attempts_allowed integer,
  job_status text, openai_batch_id text, status text, errors jsonb, usage jsonb,
  request_counts jsonb, model text, applied boolean, estimated_tokens bigint,
  job_model text, endpoint text, image_size integer[]
)
language sql stable security invoker set search_path = '' as $$
  select b.id, b.job_id, b.attempt, b.attempts, j.attempts_allowed, j.status,
         b.openai_batch_id, ob.status, ob.errors, ob.usage,
         jsonb_build_object('total', ob.total, 'completed', ob.completed, 'failed', ob.failed),
         ob.model, ob.applied_at is not null, b.estimated_tokens, j.model, j.endpoint,
         j.image_size
  from public.batchmon_job_batches b
  join public.batchmon_jobs j on j.id = b.job_id
  join public.openai_batches ob on ob.id = b.openai_batch_id
  where b.state in ('submitted', 'cancelled') and b.finished_at is null
    and public.batchmon_terminal(ob.status)
    and (p_after_id is null or b.id > p_after_id)
  order by b.id
  limit public.batchmon_page_limit(p_limit)
$$;

-- A job at a glance: progress, batches by state, tokens in the queue against the limit,
-- estimated and actual cost, and the image size it was planned with.
drop type if exists public.batchmon_job_summary cascade;
create type public.batchmon_job_summary as (
  id uuid, user_id text, model text, endpoint text, status text, attempts_allowed integer,
  max_cost double precision, estimated_cost double precision, actual_cost double precision,
  created_at timestamptz, finished_at timestamptz, assets integer, completed integer,
  failed integer, batches_queued integer, batches_running integer, batches_done integer,
  tokens_enqueued bigint, token_limit bigint, image_size integer[]
);

create or replace function public.batchmon_job_summary(
  p_job public.batchmon_jobs
) returns public.batchmon_job_summary
language sql stable security invoker set search_path = '' as $$
  select p_job.id, p_job.user_id::text, p_job.model, p_job.endpoint, p_job.status,
         p_job.attempts_allowed, p_job.max_cost, p_job.estimated_cost, p_job.actual_cost,
         p_job.created_at, p_job.finished_at,
         coalesce(a.assets, 0)::integer, coalesce(a.completed, 0)::integer,
         coalesce(a.failed, 0)::integer,
         s.queued::integer, s.running::integer, s.done::integer,
         public.batchmon_tokens_enqueued(p_job.model),
         public.batchmon_token_limit(p_job.model, '{}'::jsonb),
         p_job.image_size
  from (
    select count(*) filter (where b.state in ('planning', 'queued', 'refused')) as queued,
           count(*) filter (where b.state in ('submitting', 'submitted')) as running,
           count(*) filter (where b.state in ('done', 'cancelled')) as done
    from public.batchmon_job_batches b where b.job_id = p_job.id
  ) s
  left join lateral (
    select count(*) as assets,
           count(*) filter (where x.auto_tag_status = 'completed') as completed,
           count(*) filter (where x.auto_tag_status = 'failed') as failed
    from public.batchmon_job_batches b
    cross join lateral unnest(b.asset_ids) as u(id)
    join public.assets x on x.id = u.id
    where b.job_id = p_job.id and b.attempt = 1
  ) a on true
$$;

-- Newest first; keyset-paged: pass the last row's (created_at, id) for the next page.
create or replace function public.job_summaries(
  p_limit integer default 1000, p_before_created_at timestamptz default null,
  p_before_id uuid default null
) returns setof public.batchmon_job_summary
language sql stable security invoker set search_path = '' as $$
  -- Lateral: "(f(j)).*" would call the function once per column.
  select s.*
  from public.batchmon_jobs j
  cross join lateral public.batchmon_job_summary(j) s
  where p_before_id is null or (j.created_at, j.id) < (p_before_created_at, p_before_id)
  order by j.created_at desc, j.id desc
  limit public.batchmon_page_limit(p_limit)
$$;

create or replace function public.get_job(p_job uuid) returns setof public.batchmon_job_summary
language sql stable security invoker set search_path = '' as $$
  select s.* from public.batchmon_jobs j cross join lateral public.batchmon_job_summary(j) s
  where j.id = p_job
$$;

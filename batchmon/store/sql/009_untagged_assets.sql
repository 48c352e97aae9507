-- The assets never sent for tagging, for `batchmon submit --all-untagged` and the
-- desktop's "Tag N untagged assets…": as the caller, under RLS, so a signed-in user
-- sees only their own (the owner's direct connection sees every user's).
--
-- Untagged: no status yet, an image to send, and not already planned into a job batch
-- that has not been sent (a job's assets keep no status until their batch is created:
-- offering them again would send them twice). Oldest first, keyset-paged on
-- (created_at, id) like batch_assets, because PostgREST cuts a set at db-max-rows; the
-- count is one value, so nothing cuts it.

-- The assets waiting in a job: planned, queued, refused for queue room, or being sent.
create or replace function public.batchmon_assets_in_jobs() returns setof uuid
language sql stable security invoker set search_path = '' as $$
  select x.id
  from public.batchmon_job_batches b
  cross join lateral unnest(b.asset_ids) as x(id)
  where b.state in ('planning', 'queued', 'refused', 'submitting') and x.id is not null
$$;

create or replace function public.untagged_assets(
  p_limit integer default 1000, p_after_created_at timestamptz default null,
  p_after_id text default null
) returns table(asset_id text, created_at timestamptz)
language sql stable security invoker set search_path = '' as $$
  select a.id::text, a.created_at
  from public.assets a
  where a.auto_tag_status is null and a.image_url is not null
    and not exists (select 1 from public.batchmon_assets_in_jobs() as j(id) where j.id = a.id)
    and public.batchmon_asset_after(a.created_at, a.id, p_after_created_at, p_after_id)
  order by coalesce(a.created_at, 'infinity'), a.id
  limit public.batchmon_page_limit(p_limit)
$$;

create or replace function public.untagged_asset_count() returns bigint
language sql stable security invoker set search_path = '' as $$
  select count(*)
  from public.assets a
  where a.auto_tag_status is null and a.image_url is not null
    and not exists (select 1 from public.batchmon_assets_in_jobs() as j(id) where j.id = a.id)
$$;

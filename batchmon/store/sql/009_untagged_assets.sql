-- The assets never sent for tagging, for `batchmon submit --all-untagged` and the
-- desktop's "Tag N untagged assets…": as the caller, under RLS, so a signed-in user
-- sees only their own (the owner's direct connection sees every user's).
--
-- Untagged: no status yet and an image to send. Oldest first, keyset-paged on
-- (created_at, id) like batch_assets, because PostgREST cuts a set at db-max-rows; the
-- count is one value, so nothing cuts it.

create or replace function public.untagged_assets(
  p_limit integer default 1000, p_after_created_at timestamptz default null,
  p_after_id text default null
) returns table(asset_id text, created_at timestamptz)
language sql stable security invoker set search_path = '' as $$
  select a.id::text, a.created_at
  from public.assets a
  where a.auto_tag_status is null and a.image_url is not null
    and public.batchmon_asset_after(a.created_at, a.id, p_after_created_at, p_after_id)
  order by coalesce(a.created_at, 'infinity'), a.id
  limit public.batchmon_page_limit(p_limit)
$$;

create or replace function public.untagged_asset_count() returns bigint
language sql stable security invoker set search_path = '' as $$
  select count(*)
  from public.assets a
  where a.auto_tag_status is null and a.image_url is not null
$$;

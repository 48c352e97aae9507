-- Apply, faster: the same results from less work per chunk.

-- The ids of a batch's assets, and nothing else: apply needs them to tell a line for an
-- asset of this batch from a stray one, and reading whole rows for that cost it more
-- than the update itself. One array value, not a set of rows, so PostgREST's row limit
-- (max-rows) never truncates it.
create or replace function public.batch_asset_ids(p_batch text)
returns text[]
language sql stable security invoker set search_path = ''
as $$
  select coalesce(array_agg(a.id::text), '{}'::text[])
  from public.assets a
  where a.openai_batch_id = p_batch
$$;

revoke execute on function public.batch_asset_ids(text) from public, anon;
grant execute on function public.batch_asset_ids(text) to authenticated, service_role;

-- Unchanged from 004 except that it analyzes only the column the plan depends on.
create or replace function public.apply_staged_results(p_batch text)
returns table (completed integer, failed integer, skipped integer)
language plpgsql volatile security invoker set search_path = ''
as $$
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
  analyze pg_temp.batchmon_apply_rows (asset_id);
  with src as materialized (
    select distinct on (r.asset_id) r.asset_id, r.ok, r.tags, r.error
    from pg_temp.batchmon_apply_rows r
    where r.asset_id is not null
    order by r.asset_id, r.seq
  ), changed as (
    update public.assets a set
      auto_tag_status = case when s.ok then 'completed' else 'failed' end,
      tags = case when s.ok then coalesce(s.tags, '{}'::text[]) else a.tags end,
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

-- Push: every meaningful change to a batch, and every statement that changes assets
-- (coalesced to one message per batch), is announced on the channel
-- 'batchmon_changes' as JSON {"kind": "batch"|"assets", "batch_id", "status"}.
-- On Supabase the tables also join the supabase_realtime publication, so
-- postgres_changes carries the same changes to signed-in desktops (RLS applies there).

create or replace function public.batchmon_notify_batch() returns trigger
language plpgsql security invoker set search_path = '' as $$
begin
  perform pg_notify('batchmon_changes', json_build_object(
    'kind', 'batch', 'batch_id', new.id, 'status', new.status,
    'completed', new.completed, 'failed', new.failed, 'total', new.total,
    'applied', new.applied_at is not null, 'retried_by', new.retried_by
  )::text);
  return null;
end
$$;

create or replace function public.batchmon_notify_assets() returns trigger
language plpgsql security invoker set search_path = '' as $$
declare
  r record;
begin
  -- changed_assets is the transition table: NEW rows for insert/update, OLD for delete.
  for r in
    select c.openai_batch_id as batch_id, b.status
    from (select distinct t.openai_batch_id from changed_assets t
          where t.openai_batch_id is not null) c
    left join public.openai_batches b on b.id = c.openai_batch_id
  loop
    perform pg_notify('batchmon_changes', json_build_object(
      'kind', 'assets', 'batch_id', r.batch_id, 'status', r.status
    )::text);
  end loop;
  return null;
end
$$;

drop trigger if exists batchmon_batches_changed on public.openai_batches;
create trigger batchmon_batches_changed
  after insert on public.openai_batches
  for each row execute function public.batchmon_notify_batch();

-- updated_at alone is not news (claims and polls live in batch_claims).
drop trigger if exists batchmon_batches_updated on public.openai_batches;
create trigger batchmon_batches_updated
  after update on public.openai_batches
  for each row
  when (
    old.status is distinct from new.status
    or old.total is distinct from new.total
    or old.completed is distinct from new.completed
    or old.failed is distinct from new.failed
    or old.output_file_id is distinct from new.output_file_id
    or old.error_file_id is distinct from new.error_file_id
    or old.applied_at is distinct from new.applied_at
    or old.retried_by is distinct from new.retried_by
    or old.retry_of is distinct from new.retry_of
    or old.user_id is distinct from new.user_id
  )
  execute function public.batchmon_notify_batch();

drop trigger if exists batchmon_assets_inserted on public.assets;
create trigger batchmon_assets_inserted
  after insert on public.assets
  referencing new table as changed_assets
  for each statement execute function public.batchmon_notify_assets();

drop trigger if exists batchmon_assets_updated on public.assets;
-- Only the new rows: capturing the old ones too would cost every bulk apply a second
-- copy of each row. Assets leaving a batch (a retry) are announced by the batch row's
-- own change (retried_by).
create trigger batchmon_assets_updated
  after update on public.assets
  referencing new table as changed_assets
  for each statement execute function public.batchmon_notify_assets();

drop trigger if exists batchmon_assets_deleted on public.assets;
create trigger batchmon_assets_deleted
  after delete on public.assets
  referencing old table as changed_assets
  for each statement execute function public.batchmon_notify_assets();

do $$
declare
  t text;
begin
  if exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    foreach t in array array['assets', 'openai_batches'] loop
      if not exists (
        select 1 from pg_catalog.pg_publication_tables
        where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t
      ) then
        execute format('alter publication supabase_realtime add table public.%I', t);
      end if;
    end loop;
  end if;
end
$$;

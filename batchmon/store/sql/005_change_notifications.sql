-- Push: every meaningful change to a batch, and every statement that changes assets
-- (coalesced to one message per batch), is announced on the channel
-- 'batchmon_changes' as JSON {"kind": "batch"|"assets", "batch_id", "status"}.
-- On Supabase, postgres_changes carries the same to signed-in desktops (RLS applies
-- there): openai_batches itself, and for assets batchmon_asset_changes, one row per
-- batch that each such statement upserts. Realtime sends one event per changed row, so
-- an apply of 5,000 assets costs a watching desktop one event per statement, not 5,000.

create table if not exists public.batchmon_asset_changes (
  batch_id text primary key,
  user_id uuid,
  changed_at timestamptz not null default clock_timestamp()
);
comment on table public.batchmon_asset_changes is
  'One row per batch: upserted by every statement that changes the batch''s assets.';

-- Written only by the trigger below (as the table owner); a user reads their own rows.
alter table public.batchmon_asset_changes enable row level security;
drop policy if exists batchmon_asset_changes_select on public.batchmon_asset_changes;
create policy batchmon_asset_changes_select on public.batchmon_asset_changes
  for select to authenticated using (user_id = auth.uid());

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

-- Security definer: the signed-in user whose statement fired it may not write
-- batchmon_asset_changes (no API role may), nor see a batch row it does not own yet.
create or replace function public.batchmon_notify_assets() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  r record;
begin
  -- changed_assets is the transition table: NEW rows for insert/update, OLD for delete.
  -- In batch order, so concurrent statements lock the change rows in the same order.
  for r in
    select c.batch_id, b.status, coalesce(b.user_id, c.user_id) as user_id
    from (select distinct on (t.openai_batch_id) t.openai_batch_id as batch_id, t.user_id
          from changed_assets t
          where t.openai_batch_id is not null
          order by t.openai_batch_id) c
    left join public.openai_batches b on b.id = c.batch_id
    order by c.batch_id
  loop
    perform pg_notify('batchmon_changes', json_build_object(
      'kind', 'assets', 'batch_id', r.batch_id, 'status', r.status
    )::text);
    -- clock_timestamp(): a second statement in the same transaction changes it again.
    insert into public.batchmon_asset_changes as c (batch_id, user_id, changed_at)
    values (r.batch_id, r.user_id, clock_timestamp())
    on conflict (batch_id) do update
      set user_id = excluded.user_id, changed_at = excluded.changed_at;
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

-- assets itself is no longer published: its changes reach desktops through
-- batchmon_asset_changes. A database that has it there keeps it (the app may use it).
do $$
declare
  t text;
begin
  if exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    foreach t in array array['batchmon_asset_changes', 'openai_batches'] loop
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

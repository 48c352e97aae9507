-- Row-level security: a signed-in user (role `authenticated`, JWT subject = auth.uid())
-- reads and changes only rows whose user_id is theirs. `anon` gets nothing.
-- `service_role` bypasses RLS (the server key); the table owner (the role that ran
-- these migrations: the worker's and the embedded database's connection) bypasses it
-- too, because RLS is enabled but not forced.

alter table public.assets enable row level security;
alter table public.openai_batches enable row level security;
alter table public.batch_poll_runs enable row level security;
alter table public.asset_results enable row level security;

drop policy if exists batchmon_assets_select on public.assets;
create policy batchmon_assets_select on public.assets
  for select to authenticated using (user_id = auth.uid());
drop policy if exists batchmon_assets_insert on public.assets;
create policy batchmon_assets_insert on public.assets
  for insert to authenticated with check (user_id = auth.uid());
drop policy if exists batchmon_assets_update on public.assets;
create policy batchmon_assets_update on public.assets
  for update to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());

drop policy if exists batchmon_batches_select on public.openai_batches;
create policy batchmon_batches_select on public.openai_batches
  for select to authenticated using (user_id = auth.uid());
drop policy if exists batchmon_batches_insert on public.openai_batches;
create policy batchmon_batches_insert on public.openai_batches
  for insert to authenticated with check (user_id = auth.uid());
drop policy if exists batchmon_batches_update on public.openai_batches;
create policy batchmon_batches_update on public.openai_batches
  for update to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());

drop policy if exists batchmon_results_select on public.asset_results;
create policy batchmon_results_select on public.asset_results
  for select to authenticated using (user_id = auth.uid());
drop policy if exists batchmon_results_insert on public.asset_results;
create policy batchmon_results_insert on public.asset_results
  for insert to authenticated with check (user_id = auth.uid());

-- The poller's log holds no user data; signed-in users may read it, only servers write.
drop policy if exists batchmon_poll_runs_select on public.batch_poll_runs;
create policy batchmon_poll_runs_select on public.batch_poll_runs
  for select to authenticated using (true);

grant usage on schema public to anon, authenticated, service_role;
grant select, insert, update on public.assets to authenticated;

-- Supabase's default privileges give anon, authenticated and service_role ALL on every
-- new table and sequence in public (TRUNCATE, REFERENCES and TRIGGER included). On
-- batchmon's own tables anon gets nothing and authenticated exactly what the SQL API's
-- security-invoker functions need; docs/database.md lists it.
revoke all on public.openai_batches, public.asset_results, public.batch_poll_runs
  from public, anon, authenticated;
grant select, insert, update on public.openai_batches to authenticated;
grant select, insert on public.asset_results to authenticated;
grant select on public.batch_poll_runs to authenticated;
-- Identity columns draw from their sequence without any grant on it.
do $$
declare
  t text;
begin
  foreach t in array array['public.asset_results', 'public.batch_poll_runs'] loop
    execute format(
      'revoke all on sequence %s from public, anon, authenticated',
      pg_catalog.pg_get_serial_sequence(t, 'id')
    );
  end loop;
end
$$;
grant all on public.assets, public.openai_batches, public.asset_results,
  public.batch_poll_runs to service_role;

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
grant select, insert, update on public.openai_batches to authenticated;
grant select, insert on public.asset_results to authenticated;
grant select on public.batch_poll_runs to authenticated;
grant all on public.assets, public.openai_batches, public.asset_results,
  public.batch_poll_runs to service_role;

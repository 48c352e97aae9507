-- Row-level security: a signed-in user (role `authenticated`, JWT subject = auth.uid())
-- reads and changes only rows whose user_id is theirs. `anon` gets nothing.
-- `service_role` bypasses RLS (the server key); the table owner (the role that ran
-- these migrations: the worker's and the embedded database's connection) bypasses it
-- too, because RLS is enabled but not forced.

alter table public.assets enable row level security;
alter table public.openai_batches enable row level security;
alter table public.batch_poll_runs enable row level security;
alter table public.asset_results enable row level security;
alter table public.batch_claims enable row level security;

-- One rule for every table holding user data: select and insert (and update, where
-- rows change) only with user_id = auth.uid(). asset_results is an append-only log.
do $$
declare
  t record;
begin
  for t in
    select * from (values
      ('assets', 'batchmon_assets', true),
      ('openai_batches', 'batchmon_batches', true),
      ('asset_results', 'batchmon_results', false)
    ) as v(tab, prefix, updatable)
  loop
    execute format('drop policy if exists %I on public.%I', t.prefix || '_select', t.tab);
    execute format(
      'create policy %I on public.%I for select to authenticated using (user_id = auth.uid())',
      t.prefix || '_select', t.tab);
    execute format('drop policy if exists %I on public.%I', t.prefix || '_insert', t.tab);
    execute format(
      'create policy %I on public.%I for insert to authenticated'
      ' with check (user_id = auth.uid())',
      t.prefix || '_insert', t.tab);
    if t.updatable then
      execute format('drop policy if exists %I on public.%I', t.prefix || '_update', t.tab);
      execute format(
        'create policy %I on public.%I for update to authenticated'
        ' using (user_id = auth.uid()) with check (user_id = auth.uid())',
        t.prefix || '_update', t.tab);
    end if;
  end loop;
end
$$;

-- The poller's log holds no user data; signed-in users may read it, only servers write.
drop policy if exists batchmon_poll_runs_select on public.batch_poll_runs;
create policy batchmon_poll_runs_select on public.batch_poll_runs
  for select to authenticated using (true);

-- Claims are visible and writable exactly where the batch row is (its RLS decides).
drop policy if exists batchmon_claims_by_batch on public.batch_claims;
create policy batchmon_claims_by_batch on public.batch_claims
  for all to authenticated
  using (exists (select 1 from public.openai_batches b where b.id = batch_id))
  with check (exists (select 1 from public.openai_batches b where b.id = batch_id));

-- Every privilege the API roles hold on batchmon's objects, declared once. `migrate`
-- runs this after the numbered files, in the same transaction, whenever one of them
-- ran or this file changed; it is also safe to run by hand. docs/database.md lists
-- the result, and tests/store/test_privileges.py compares the catalog with that list.
--
-- Supabase's default privileges give anon, authenticated and service_role ALL on every
-- new table, sequence and function in public (TRUNCATE, REFERENCES and TRIGGER
-- included), and PostgreSQL gives EXECUTE on every new function to PUBLIC. So each
-- object starts from none: anon keeps nothing, authenticated gets exactly what the
-- security-invoker functions need, service_role (the trusted server key) everything.

grant usage on schema public to anon, authenticated, service_role;

-- The app's own table: apply, submit and retry update it as the signed-in user. The
-- app's own grants on it are left alone.
grant select, insert, update on public.assets to authenticated;
grant all on public.assets to service_role;

-- batchmon's tables and views, and the sequences of their identity columns (which
-- draw values without any grant on them).
do $$
declare
  t record;
  s regclass;
begin
  for t in
    select v.rel::regclass as rel, v.privileges from (values
      ('public.openai_batches', 'select, insert, update'),
      ('public.batch_claims', 'select, insert, update'),
      ('public.asset_results', 'select, insert'),
      ('public.batch_poll_runs', 'select'),
      -- written only by the assets triggers; read by Realtime as the subscriber
      ('public.batchmon_asset_changes', 'select'),
      ('public.batch_overview', 'select'),
      ('public.batch_results_state', 'select, insert, update, delete'),
      ('public.batchmon_jobs', 'select, insert, update'),
      ('public.batchmon_job_batches', 'select, insert, update'),
      -- delete: `batchmon jobs limits MODEL --clear`, by any signed-in user (the limit
      -- belongs to the organisation behind the API key, which they all share)
      ('public.batchmon_model_limits', 'select, insert, update, delete')
    ) as v(rel, privileges)
  loop
    execute format('revoke all on %s from public, anon, authenticated', t.rel);
    execute format('grant %s on %s to authenticated', t.privileges, t.rel);
    execute format('grant all on %s to service_role', t.rel);
    for s in
      select d.objid::regclass from pg_catalog.pg_depend d
      where d.classid = 'pg_catalog.pg_class'::regclass and d.refobjid = t.rel
        and d.deptype in ('a', 'i')
        and (select c.relkind from pg_catalog.pg_class c where c.oid = d.objid) = 'S'
    loop
      execute format('revoke all on sequence %s from public, anon, authenticated', s);
    end loop;
  end loop;
end
$$;

-- The SQL API: every function in public whose name batchmon owns (the batchmon_
-- prefix, or a name below), found in the catalog with each overload's signature.
-- Signed-in users and servers may call it; anonymous callers may not. Trigger
-- functions are no API: nobody needs EXECUTE on them for the triggers to fire.
do $$
declare
  f record;
begin
  for f in
    select p.oid::regprocedure as signature, p.prorettype = 'trigger'::regtype as is_trigger
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and (p.proname like 'batchmon\_%' or p.proname = any (array[
        -- 004_functions.sql
        'pending_batches', 'record_batch_statuses', 'claim_due_batches', 'release_claims',
        'apply_staged_results', 'apply_batch_results', 'finish_batch_apply',
        'mark_batch_failed', 'mark_batch_submitted', 'begin_batch_retry', 'record_poll_run',
        'recent_poll_runs', 'list_batches', 'get_batch', 'last_batch_change', 'batch_assets',
        'assets_by_ids', 'batch_asset_ids',
        -- 006_results_state.sql
        'set_results_state', 'batch_results_states', 'renew_claims',
        -- 007_jobs.sql, 008_clear_model_limit.sql and 010_job_image_size.sql
        'create_job', 'start_job', 'add_job_batch', 'extend_job_batch', 'claim_job_batch',
        'get_job_batch', 'record_job_batch_upload', 'record_job_batch_created',
        'record_job_batch_refused', 'ended_job_batches', 'split_job_batch',
        'finish_job_batch', 'set_model_limit', 'model_limits', 'clear_model_limit',
        'job_summaries', 'get_job', 'job_batches', 'cancel_job',
        -- 009_untagged_assets.sql
        'untagged_assets', 'untagged_asset_count'
      ]))
  loop
    if f.is_trigger then
      execute format('revoke all on function %s from public, anon, authenticated', f.signature);
    else
      execute format('revoke execute on function %s from public, anon', f.signature);
      execute format('grant execute on function %s to authenticated, service_role', f.signature);
    end if;
  end loop;
end
$$;

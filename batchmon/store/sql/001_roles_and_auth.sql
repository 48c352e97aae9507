-- Roles and auth.uid(): what Supabase provides, recreated on a plain PostgreSQL so the
-- same RLS policies and SQL functions work on both. On Supabase every object here
-- already exists and nothing is touched.

do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin noinherit', r);
      exception when duplicate_object then
        null;  -- another database of this cluster created it a moment ago
      end;
    end if;
  end loop;
  -- service_role is the trusted server key: it bypasses RLS, as on Supabase.
  if not (select rolbypassrls from pg_catalog.pg_roles where rolname = 'service_role') then
    alter role service_role bypassrls;
  end if;
end
$$;

-- The auth.uid() shim: created only where there is no auth schema (plain PostgreSQL).
-- Like Supabase's own, it reads the JWT subject that PostgREST (or a test) puts in
-- request.jwt.claim.sub or request.jwt.claims.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'auth') then
    create schema auth;
    comment on schema auth is 'batchmon shim of Supabase''s auth schema (auth.uid() only)';
    create function auth.uid() returns uuid
      language sql stable as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        )::uuid
      $fn$;
    grant usage on schema auth to anon, authenticated, service_role;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;
end
$$;

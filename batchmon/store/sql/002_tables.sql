-- Tables. `assets` may already exist (the app that creates batches owns it): add only
-- what is missing, never recreate it. The other tables belong to batchmon.
-- Needs PostgreSQL 15 or newer (gen_random_uuid() in core, security_invoker views).


create table if not exists public.assets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  image_url text,
  tags text[],
  auto_tag_status text,
  openai_batch_id text,
  auto_tag_error text,
  created_at timestamptz not null default now(),
  tagged_at timestamptz
);

alter table public.assets add column if not exists user_id uuid;
alter table public.assets add column if not exists image_url text;
alter table public.assets add column if not exists tags text[];
alter table public.assets add column if not exists auto_tag_status text;
alter table public.assets add column if not exists openai_batch_id text;
alter table public.assets add column if not exists auto_tag_error text;
alter table public.assets add column if not exists created_at timestamptz default now();
alter table public.assets add column if not exists tagged_at timestamptz;

-- NOT VALID: existing rows are not re-checked, so a legacy value never blocks the
-- migration; every new or updated row must satisfy it.
do $$
begin
  if not exists (
    select 1 from pg_catalog.pg_constraint
    where conname = 'assets_auto_tag_status_check' and conrelid = 'public.assets'::regclass
  ) then
    alter table public.assets add constraint assets_auto_tag_status_check
      check (auto_tag_status in ('pending', 'completed', 'failed')) not valid;
  end if;
end
$$;

create table if not exists public.openai_batches (
  id text primary key,
  user_id uuid,
  status text not null,
  endpoint text,
  model text,
  total integer not null default 0,
  completed integer not null default 0,
  failed integer not null default 0,
  input_file_id text,
  output_file_id text,
  error_file_id text,
  errors jsonb,
  usage jsonb,
  metadata jsonb,
  created_at timestamptz,
  in_progress_at timestamptz,
  finalizing_at timestamptz,
  completed_at timestamptz,
  failed_at timestamptz,
  expired_at timestamptz,
  cancelling_at timestamptz,
  cancelled_at timestamptz,
  expires_at timestamptz,
  applied_at timestamptz,
  retry_of text,
  retried_by text,
  attempt integer not null default 1,
  updated_at timestamptz not null default now()
);

-- The workers' bookkeeping: who holds a batch (a lease) and when it was last polled.
-- A table of its own, outside the supabase_realtime publication: every claim, lease
-- renewal, poll and release would otherwise be a Realtime event to each subscriber of
-- the owner, though nobody watching the desktop needs to know.
create table if not exists public.batch_claims (
  batch_id text primary key references public.openai_batches (id) on delete cascade,
  claimed_by text,
  claim_expires_at timestamptz,
  last_polled_at timestamptz
);

create table if not exists public.batch_poll_runs (
  id bigint generated always as identity primary key,
  worker_id text,
  started_at timestamptz not null,
  finished_at timestamptz,
  checked integer not null default 0,
  applied integer not null default 0,
  failed integer not null default 0,
  error text
);

-- Append-only history of every pending -> completed/failed transition an apply made.
-- "Applied exactly once" is provable from it: one row per (asset, batch).
create table if not exists public.asset_results (
  id bigint generated always as identity,  -- order of writing; no index: append-only
  asset_id uuid not null,
  batch_id text not null,
  user_id uuid,
  status text not null check (status in ('completed', 'failed')),
  error text,
  applied_at timestamptz not null default now()
);

-- Hot queries: pending assets by batch (monitoring, apply), assets of a batch (counts,
-- detail pane), due batches (claims), newest batches (list), a user's last change
-- (the desktop's gap check), history by asset.
-- Every index on assets and asset_results is paid for on each row an apply writes, so
-- there are no others (user_id filters always come with a batch or status filter).
create index if not exists assets_pending_batch_idx
  on public.assets (openai_batch_id) where auto_tag_status = 'pending';
create index if not exists assets_batch_idx on public.assets (openai_batch_id);
create index if not exists openai_batches_due_idx
  on public.openai_batches (created_at) where applied_at is null;
create index if not exists batch_claims_polled_idx on public.batch_claims (last_polled_at);
create index if not exists openai_batches_created_idx on public.openai_batches (created_at desc);
create index if not exists openai_batches_user_idx on public.openai_batches (user_id, updated_at);
create index if not exists batch_poll_runs_started_idx on public.batch_poll_runs (started_at desc);
create index if not exists asset_results_asset_idx on public.asset_results (asset_id);

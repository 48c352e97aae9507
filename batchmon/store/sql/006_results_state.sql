-- What the worker knows about a batch's results beyond OpenAI's status: they arrived
-- incomplete and are fetched again, the batch waits for queue room, it is gone, or its
-- results expired. Paid results are never given up silently: the state is where the
-- desktop and `batchmon status` read it, and the assets stay pending meanwhile.
--
-- A table of its own, not columns of openai_batches: batch_overview selects b.*, and
-- re-running 004 after new columns appeared there would reorder the view's columns.
--
--   state          one of the states checked below (no row: nothing to report)
--   note           what a person reads, e.g. "results incomplete: 150 of 200 received"
--   attempts       downloads (or waits) so far in this state
--   next_check_at  claim_due_batches skips the batch until then; null: never again

create table if not exists public.batch_results_state (
  batch_id text primary key,
  state text not null check (state in ('refetching', 'results_incomplete',
                                       'waiting_for_queue', 'resubmitted',
                                       'batch_not_found', 'results_expired')),
  note text,
  attempts integer not null default 1,
  next_check_at timestamptz,
  updated_at timestamptz not null default now()
);

-- Visible and writable exactly where the batch row is (its RLS decides).
alter table public.batch_results_state enable row level security;
drop policy if exists batch_results_state_by_batch on public.batch_results_state;
create policy batch_results_state_by_batch on public.batch_results_state
  for all to authenticated
  using (exists (select 1 from public.openai_batches b where b.id = batch_id))
  with check (exists (select 1 from public.openai_batches b where b.id = batch_id));

-- Set (or, with a null state, clear) a batch's results state. Staying in the same state
-- counts one more attempt, and so does refetching -> results_incomplete (the flag raised
-- after a few refetches); another state starts at 1. p_check_again_s: seconds until the
-- worker may claim the batch again, null for never. Touching the batch row tells the
-- desktop through the change feed. Returns the attempts so far (0 when cleared).
create or replace function public.set_results_state(
  p_batch text, p_state text, p_note text, p_check_again_s double precision
) returns integer
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_attempts integer := 0;
begin
  update public.openai_batches set updated_at = now() where id = p_batch;
  perform public.batchmon_require_recorded(found, 'batch', p_batch,
    'sync the batch first so its status is recorded');
  if p_state is null then
    delete from public.batch_results_state r where r.batch_id = p_batch;
    return 0;
  end if;
  insert into public.batch_results_state as r (batch_id, state, note, next_check_at)
  values (
    p_batch, p_state, p_note,
    case when p_check_again_s is not null
      then now() + make_interval(secs => greatest(p_check_again_s, 0)) end
  )
  on conflict (batch_id) do update set
    attempts = case
      when r.state = excluded.state
        or (r.state = 'refetching' and excluded.state = 'results_incomplete')
        then r.attempts + 1
      else 1
    end,
    state = excluded.state,
    note = excluded.note,
    next_check_at = excluded.next_check_at,
    updated_at = now()
  returning r.attempts into v_attempts;
  return v_attempts;
end
$$;

-- The batch's results can never arrive (batch_not_found or results_expired, batchmon's
-- GONE_STATES): its pending assets may be taken by a new batch.
create or replace function public.batchmon_batch_gone(p_batch text) returns boolean
language sql stable security invoker set search_path = '' as $$
  select exists (
    select 1 from public.batch_results_state g
    where g.batch_id = p_batch and g.state in ('batch_not_found', 'results_expired'))
$$;

-- The results states of the given batches (those that have one).
create or replace function public.batch_results_states(p_batch_ids text[]) returns table (
  batch_id text, state text, note text, attempts integer, next_check_at timestamptz
)
language sql stable security invoker set search_path = '' as $$
  select r.batch_id, r.state, r.note, r.attempts, r.next_check_at
  from public.batch_results_state r
  where r.batch_id = any(p_batch_ids)
  order by r.batch_id
$$;

-- Extend a worker's leases on batches it is still working on (a long apply), so no
-- other worker claims them meanwhile. Only this worker's live claims are extended: one
-- that ran out, and was taken over, stays with its new holder. Returns the rows renewed.
create or replace function public.renew_claims(
  p_worker text, p_batch_ids text[], p_lease interval
) returns integer
language sql volatile security invoker set search_path = '' as $$
  with renewed as (
    update public.batch_claims
    set claim_expires_at = now() + p_lease
    where claimed_by = p_worker and claim_expires_at > now() and batch_id = any(p_batch_ids)
    returning 1
  )
  select count(*)::integer from renewed
$$;

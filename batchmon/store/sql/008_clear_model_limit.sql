-- Forget a model's stored enqueued-token limit (`batchmon jobs limits MODEL --clear`).
--
-- A configured or learned limit in batchmon_model_limits wins over the worker's defaults
-- (tier 1, or the token_limits setting); clearing it lets the default apply again. Like
-- recording one, every signed-in user may clear it (privileges.sql grants them DELETE):
-- the limit belongs to the organisation behind the API key, which every user of one
-- batchmon database shares.

create or replace function public.clear_model_limit(p_model text) returns boolean
language plpgsql volatile security invoker set search_path = '' as $$
begin
  delete from public.batchmon_model_limits where model = p_model;
  return found;
end
$$;

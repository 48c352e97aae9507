-- Forget a model's stored enqueued-token limit (`batchmon jobs limits MODEL --clear`).
--
-- A configured or learned limit in batchmon_model_limits wins over the worker's defaults
-- (tier 1, or the token_limits setting); clearing it lets the default apply again. Like
-- recording one, every signed-in user may clear it: the limit belongs to the
-- organisation behind the API key, which every user of one batchmon database shares.

grant delete on public.batchmon_model_limits to authenticated;

create or replace function public.clear_model_limit(p_model text)
returns boolean
language plpgsql volatile security invoker set search_path = ''
as $$
begin
  delete from public.batchmon_model_limits where model = p_model;
  return found;
end
$$;

revoke execute on function public.clear_model_limit(text) from public, anon;
grant execute on function public.clear_model_limit(text) to authenticated, service_role;

-- demo/postgres/schema.sql — the source schema of the failure-analysis product spec, exactly as
-- specified (public."user" + public.calllog + the index on created_on), nothing more.
-- Real databases have more columns; the product selects only these.
-- Loaded by scripts/pg-demo-load before demo/postgres/generate.sql.
CREATE TABLE public."user" (user_id uuid PRIMARY KEY, name text);
CREATE TABLE public.calllog (
  session_id      text,                -- the app-side session; NULL = not a session
  user_id         uuid REFERENCES public."user"(user_id),
  exotel_call_sid text,                -- telephony provider's call id; NULL = the call never connected
  created_on      timestamp NOT NULL   -- stored in UTC, without time zone
);
CREATE INDEX ON public.calllog (created_on);

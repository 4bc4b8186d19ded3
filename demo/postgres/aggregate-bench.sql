-- demo/postgres/aggregate-bench.sql — time the product's per-user aggregate by hand, in psql:
--   psql -X -v from="'2026-10-23 18:30'" -v to="'2026-11-22 18:30'" -f demo/postgres/aggregate-bench.sql URL
-- (defaults: the last 30 Asia/Kolkata days of the demo data ending 2026-11-22, as UTC instants).
-- Prints the plan (EXPLAIN ANALYZE, BUFFERS) once, then the client-side time of 3 plain runs
-- (rows fetched into psql and discarded).
\set ON_ERROR_STOP on
\if :{?from}
\else
  \set from '''2026-10-23 18:30'''
\endif
\if :{?to}
\else
  \set to '''2026-11-22 18:30'''
\endif
PREPARE per_user(timestamp, timestamp) AS
WITH per_user AS (
  SELECT user_id, count(*) AS total_sessions,
         count(*) FILTER (WHERE exotel_call_sid IS NULL OR btrim(exotel_call_sid, E' \t\r\n') = '') AS failed_sessions
  FROM public.calllog
  WHERE created_on >= $1 AND created_on < $2
    AND session_id IS NOT NULL AND btrim(session_id, E' \t\r\n') <> ''
  GROUP BY user_id)
SELECT p.user_id::text, u.name, p.total_sessions, p.failed_sessions
FROM per_user p LEFT JOIN public."user" u ON u.user_id = p.user_id;

EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS) EXECUTE per_user(:from, :to);
\timing on
\o /dev/null
EXECUTE per_user(:from, :to);
EXECUTE per_user(:from, :to);
EXECUTE per_user(:from, :to);
\o
\timing off
SELECT count(*) AS users, sum(total_sessions) AS sessions, sum(failed_sessions) AS failures
FROM (WITH per_user AS (
  SELECT user_id, count(*) AS total_sessions,
         count(*) FILTER (WHERE exotel_call_sid IS NULL OR btrim(exotel_call_sid, E' \t\r\n') = '') AS failed_sessions
  FROM public.calllog
  WHERE created_on >= :from AND created_on < :to
    AND session_id IS NOT NULL AND btrim(session_id, E' \t\r\n') <> ''
  GROUP BY user_id) SELECT * FROM per_user) s;

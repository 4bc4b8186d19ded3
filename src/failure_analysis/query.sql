-- The scan of a failure analysis (docs/insights.md, "Failure analysis"; docs/failure-analysis.md,
-- "Settled days"): per-user session and failure counts of each local day it covers, from one
-- scan of public.calllog. Rust rolls the (user, day) rows up per user, per window and per day.
--
-- $1 timestamp[]  the UTC start of each local day of the analysis, ascending (with
--                 compare_previous the previous window's days first): day i is [$1[i], $1[i+1]),
--                 the last one until the window's end
-- $2 timestamp    start of one run of consecutive days to scan, UTC, inclusive
-- $3 timestamp    end of that run, UTC, exclusive
--
-- The lines between "-- run {" and "-- run }" read one run. query.rs repeats them once per run
-- (joined by UNION ALL, $2 and $3 renumbered $4 and $5, $6 and $7, ...): the days that are not
-- read from the settled days kept in storage. As written here the text is one run.
--
-- A session has a non-blank session_id; a failure is a session whose exotel_call_sid is NULL
-- or blank (docs/failure-analysis.md, "Definitions"); blank = empty or only ' ', \t, \r, \n.
-- The first character is tested before anything is trimmed: ascii() reads it in place (0 for
-- the empty string), and only a value that starts with one of the four, or is empty, goes to
-- btrim(). btrim() returns a copy of every value it is given, an allocation per row and column
-- that cost about a third of the query's time on 3.3M rows (scripts/bench/failure-analysis).
--
-- The window is compared on created_on alone (the created_on index can be used);
-- width_bucket finds a row's day by binary search in $1, which keeps local days DST-correct
-- without a time zone conversion per row.
--
-- The rows are aggregated per (user, day), which PostgreSQL does in parallel workers (partial
-- aggregates, finalized in the leader). That needs at least two UNION ALL branches: the planner
-- estimates an expression of created_on (the day) to have as many values as there are rows,
-- and then picks a serial plan; for the columns of a UNION ALL it assumes the default (200),
-- and keeps the parallel partial aggregate. So query.rs splits a lone run in two (a Parallel
-- Append of two parallel index scans, each row still read once). Rolling the (user, day)
-- groups up in PostgreSQL (GROUPING SETS) instead cost as much as sending them (52,052 rows for
-- 2,000 users over 30 days), and the rows are what the settled days are kept from.
-- user_id is read as text, so a bigint key works as well as a uuid; names are read by a second
-- query (query.rs), so a day read from storage shows its users' current names.
SELECT s.user_id::text AS user_id,
       s.day,
       count(*) AS total_sessions,
       count(*) FILTER (WHERE s.failed) AS failed_sessions
  FROM (
-- run {
        SELECT c.user_id,
               width_bucket(c.created_on, $1::timestamp[]) AS day,
               c.exotel_call_sid IS NULL
               OR (ascii(c.exotel_call_sid) IN (0, 9, 10, 13, 32)
                   AND btrim(c.exotel_call_sid, E' \t\r\n') = '') AS failed
          FROM public.calllog c
         WHERE c.created_on >= $2 AND c.created_on < $3
           AND c.session_id IS NOT NULL
           AND (ascii(c.session_id) NOT IN (0, 9, 10, 13, 32)
                OR btrim(c.session_id, E' \t\r\n') <> '')
-- run }
       ) s
 GROUP BY s.user_id, s.day

-- The scan of a failure analysis (docs/insights.md, "Failure analysis"; docs/failure-analysis.md,
-- "Settled days"): per-user session and failure counts of one local day. query.rs sends this
-- text once per day to scan, joined by UNION ALL ($1 and $2 renumbered $3 and $4, $5 and $6,
-- ...): the days that are not read from the settled days kept in storage. Rust rolls the
-- (user, day) rows up per user, per window and per day.
--
-- $1 timestamp  the day's start, UTC, inclusive (also returned, to tell the days apart)
-- $2 timestamp  the day's end, UTC, exclusive
--
-- A session has a non-blank session_id; a failure is a session whose exotel_call_sid is NULL
-- or blank (docs/failure-analysis.md, "Definitions"); blank = empty or only ' ', \t, \r, \n.
-- The first character is tested before anything is trimmed: ascii() reads it in place (0 for
-- the empty string), and only a value that starts with one of the four, or is empty, goes to
-- btrim(). btrim() returns a copy of every value it is given, an allocation per row and column
-- that cost about a third of the query's time on 3.3M rows (scripts/bench/failure-analysis).
--
-- One branch per day, each grouped by user alone: a row's day is its branch, so nothing is
-- computed per row beyond the bare per-user GROUP BY (the day's range is an index condition
-- on created_on), and each branch's hash table holds one day's users. PostgreSQL runs the
-- branches as a Parallel Append of whole aggregates, each branch in one process, so the
-- leader gathers each (user, day) row once and has nothing left to finalize. The handler's
-- session runs it with JIT off (failure_analysis/mod.rs): JIT would compile every branch's
-- expressions separately (990 functions, ~1.5 s of compiling for 30 days, more than the
-- whole scan takes without it).
--
-- user_id is read as text, so a bigint key works as well as a uuid; names are read by a second
-- query (query.rs), so a day read from storage shows its users' current names.
SELECT $1::timestamp AS day_start,
       c.user_id::text AS user_id,
       count(*) AS total_sessions,
       count(*) FILTER (WHERE c.exotel_call_sid IS NULL
                           OR (ascii(c.exotel_call_sid) IN (0, 9, 10, 13, 32)
                               AND btrim(c.exotel_call_sid, E' \t\r\n') = '')) AS failed_sessions
  FROM public.calllog c
 WHERE c.created_on >= $1 AND c.created_on < $2
   AND c.session_id IS NOT NULL
   AND (ascii(c.session_id) NOT IN (0, 9, 10, 13, 32)
        OR btrim(c.session_id, E' \t\r\n') <> '')
 GROUP BY c.user_id

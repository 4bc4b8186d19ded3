-- The one query of a failure analysis (docs/insights.md, "Failure analysis"): per-user and
-- per-local-day session and failure counts, from one scan of public.calllog.
--
-- $1 timestamp    scan start, UTC, inclusive: the window's start, or the previous window's
--                 with compare_previous
-- $2 timestamp    window end, UTC, exclusive
-- $3 timestamp[]  the UTC start of each local day from $1 on, ascending ($3[1] = $1): day i is
--                 [$3[i], $3[i+1]), the last one until $2
-- $4 integer      the number of the window's first day in $3 (1 without compare_previous)
--
-- A session has a non-blank session_id; a failure is a session whose exotel_call_sid is NULL
-- or blank (docs/failure-analysis.md, "Definitions"); blank = empty or only ' ', \t, \r, \n.
-- The first character is tested before anything is trimmed: ascii() reads it in place (0 for
-- the empty string), and only a value that starts with one of the four, or is empty, goes to
-- btrim(). btrim() returns a copy of every value it is given, an allocation per row and column
-- that cost about a third of the query's time on 3.3M rows (scripts/bench/failure-analysis).
--
-- The window is compared on created_on alone (the created_on index can be used);
-- width_bucket finds a row's day by binary search in $3, which keeps local days DST-correct
-- without a time zone conversion per row.
--
-- One scan: the rows are aggregated per (user, day) first, which PostgreSQL can do in
-- parallel workers (it cannot for GROUPING SETS, which would aggregate the whole scan in one
-- process); the (user, day) groups (users x days, tens of thousands) are then rolled up per
-- (user, window) and per day with GROUPING SETS. Users are joined last. user_id is read as
-- text, so a bigint key works as well as a uuid.
--
-- The scan is a UNION ALL of its two parts, the previous window [$1, $3[$4]) (empty without
-- compare_previous) and the window [$3[$4], $2): together one pass over [$1, $2), each row read
-- once, by a Parallel Append of two parallel index scans. The planner estimates an expression of
-- created_on (the day) to have as many values as there are rows, and then picks a serial plan;
-- for the columns of a UNION ALL it assumes the default (200), and keeps the parallel partial
-- aggregate. The day is computed in the scan itself: an unnest(ARRAY[day]) in the target list
-- (a ProjectSet node per row) gets the same estimate but cost about 2x the per-user query
-- (scripts/bench/failure-analysis).
--
-- Rows: is_day = false: one user (user_id, name) in the window (in_window) or the previous one;
--       is_day = true: one day (day, its number in $3) over all users.
WITH per_user_day AS (
    SELECT s.user_id,
           s.day,
           count(*) AS total_sessions,
           count(*) FILTER (WHERE s.failed) AS failed_sessions
      FROM (SELECT c.user_id,
                   width_bucket(c.created_on, $3::timestamp[]) AS day,
                   c.exotel_call_sid IS NULL
                   OR (ascii(c.exotel_call_sid) IN (0, 9, 10, 13, 32)
                       AND btrim(c.exotel_call_sid, E' \t\r\n') = '') AS failed
              FROM public.calllog c
             WHERE c.created_on >= $1 AND c.created_on < ($3::timestamp[])[$4::integer]
               AND c.session_id IS NOT NULL
               AND (ascii(c.session_id) NOT IN (0, 9, 10, 13, 32)
                    OR btrim(c.session_id, E' \t\r\n') <> '')
            UNION ALL
            SELECT c.user_id,
                   width_bucket(c.created_on, $3::timestamp[]),
                   c.exotel_call_sid IS NULL
                   OR (ascii(c.exotel_call_sid) IN (0, 9, 10, 13, 32)
                       AND btrim(c.exotel_call_sid, E' \t\r\n') = '')
              FROM public.calllog c
             WHERE c.created_on >= ($3::timestamp[])[$4::integer] AND c.created_on < $2
               AND c.session_id IS NOT NULL
               AND (ascii(c.session_id) NOT IN (0, 9, 10, 13, 32)
                    OR btrim(c.session_id, E' \t\r\n') <> '')) s
     GROUP BY s.user_id, s.day
), rolled_up AS (
    SELECT GROUPING(d.user_id) = 1 AS is_day,
           d.user_id,
           d.day >= $4::integer AS in_window,
           d.day,
           sum(d.total_sessions)::bigint AS total_sessions,
           sum(d.failed_sessions)::bigint AS failed_sessions
      FROM per_user_day d
     GROUP BY GROUPING SETS ((d.user_id, d.day >= $4::integer), (d.day))
)
SELECT r.is_day, r.user_id::text AS user_id, u.name, r.in_window, r.day,
       r.total_sessions, r.failed_sessions
  FROM rolled_up r
  LEFT JOIN public."user" u ON u.user_id = r.user_id

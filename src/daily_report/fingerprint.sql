-- The fingerprints of an org's local days (src/daily_report/provenance.rs): per day, the runs
-- the report counts, the node-output rows of those runs and the newest output's time. The
-- scope is day.sql's; only ids, numbers and timestamps are read (never flat_data).
-- As in day.sql, the three tables' rows are brought together by one GROUP BY of their union
-- per run, not by joins (query.rs, "Shape of the query"). Runs are grouped by the cityHash64
-- of their id, not the string: the String hash sets were most of the time (3 days on the
-- benchmark's data: 0.52 s -> 0.21 s, joined), and a 64-bit collision among a day's runs would
-- at worst make one day look changed (it is then regenerated, found equal by the report's own
-- exact fingerprint, and not revised).
-- Parameters: org_id, node_id, excluded, tz (the org's IANA zone), start, end (UTC,
-- [start, end): from the first day's local midnight to the one after the last day).
WITH
  window_runs AS (
    SELECT id FROM public_runs
    WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
  ),
  per_run AS (
    SELECT h,
      minIf(at, part = 0) AS started,
      countIf(part = 2) AS output_rows,
      maxIf(at, part = 2) AS latest
    FROM (
      SELECT cityHash64(id) AS h, 0 AS part, timestamp AS at
      FROM public_runs
      WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
      UNION ALL
      SELECT DISTINCT cityHash64(run_id), 1, toDateTime64(0, 3, 'UTC')
      FROM public_sessions
      WHERE org_id = {org_id:String}
        AND NOT has({excluded:Array(String)}, user_number)
        AND run_id IN (SELECT id FROM window_runs)
      UNION ALL
      SELECT cityHash64(run_id), 2, timestamp
      FROM public_node_outputs
      WHERE node_persistent_id = {node_id:String}
        AND run_id IN (SELECT id FROM window_runs)
    )
    GROUP BY h
    HAVING countIf(part = 1) > 0
  )
SELECT
  toDate(toTimeZone(started, {tz:String})) AS day,
  count() AS runs,
  sum(output_rows) AS outputs,
  max(if(output_rows > 0, toUnixTimestamp64Milli(latest), 0)) AS latest_output_ms
FROM per_run
GROUP BY day
ORDER BY day

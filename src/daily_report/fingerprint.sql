-- The fingerprints of an org's local days (src/daily_report/provenance.rs): per day, the runs
-- the report counts, the node-output rows of those runs and the newest output's time. The
-- scope is day.sql's; only ids, numbers and timestamps are read (never flat_data).
-- Run ids are joined by their cityHash64, not as strings: the String hash sets were most of
-- the time (3 days on the benchmark's data: 0.52 s -> 0.21 s), and a 64-bit collision among a
-- day's runs would at worst make one day look changed (it is then regenerated, found equal by
-- the report's own exact fingerprint, and not revised).
-- Parameters: org_id, node_id, excluded, tz (the org's IANA zone), start, end (UTC,
-- [start, end): from the first day's local midnight to the one after the last day).
WITH
  runs AS (
    SELECT cityHash64(id) AS h, min(timestamp) AS started
    FROM public_runs
    WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
    GROUP BY h
  ),
  scoped AS (
    SELECT DISTINCT cityHash64(run_id) AS h
    FROM public_sessions
    WHERE org_id = {org_id:String}
      AND NOT has({excluded:Array(String)}, user_number)
      AND run_id IN (
        SELECT id FROM public_runs
        WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')})
  ),
  outputs AS (
    SELECT cityHash64(run_id) AS h, count() AS output_rows, max(timestamp) AS latest
    FROM public_node_outputs
    WHERE node_persistent_id = {node_id:String}
      AND run_id IN (
        SELECT id FROM public_runs
        WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')})
    GROUP BY h
  )
SELECT
  toDate(toTimeZone(r.started, {tz:String})) AS day,
  count() AS runs,
  sum(o.output_rows) AS outputs,
  max(toUnixTimestamp64Milli(o.latest)) AS latest_output_ms
FROM scoped AS s
INNER JOIN runs AS r ON r.h = s.h
LEFT JOIN outputs AS o ON o.h = s.h
GROUP BY day
ORDER BY day

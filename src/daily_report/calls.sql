-- The calls behind a number of a daily report (src/daily_report/calls.rs explains it), with the
-- report's scoping (day.sql): runs in [start, end) with a session of the org from a number not
-- excluded, each with the latest output of the org's node, its flat_data parsed once.
-- The runs, scoped and latest CTEs repeat day.sql's (this one also keeps each run's start and
-- number); each file is sent as it is, so each is readable and benchmarked alone. What keeps
-- the two from drifting apart is a test: the calls of every breakdown value, over all pages,
-- are exactly the report's count for it (tests/it/insights_dr.rs).
-- Parameters: org_id, node_id, excluded, start, end (UTC), dimension ('' = every call), value,
-- before_ms, before_run (keyset: only calls before (before_ms, before_run)), limit.
WITH
  runs AS (
    SELECT id AS run_id, min(timestamp) AS started_at
    FROM public_runs
    WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
    GROUP BY id
  ),
  scoped AS (
    SELECT run_id, sum(session_duration) AS duration, min(number) AS user_number
    FROM (
      SELECT run_id, id, max(duration) AS session_duration, min(user_number) AS number
      FROM public_sessions
      WHERE org_id = {org_id:String}
        AND NOT has({excluded:Array(String)}, user_number)
        AND run_id IN (
          SELECT id FROM public_runs
          WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')})
      GROUP BY run_id, id
    )
    GROUP BY run_id
  ),
  latest AS (
    SELECT run_id, argMax(flat_data, timestamp) AS flat_data
    FROM public_node_outputs
    WHERE node_persistent_id = {node_id:String}
      AND run_id IN (
        SELECT id FROM public_runs
        WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')})
    GROUP BY run_id
  ),
  calls AS (
    SELECT
      s.run_id AS run_id,
      toUnixTimestamp64Milli(r.started_at) AS started_ms,
      s.duration AS duration_seconds,
      s.user_number AS user_number,
      JSONExtract(ifNull(l.flat_data, ''), 'Tuple(
        `result.call.call_classification` String,
        `result.call.call_stage` String,
        `result.load.load_status` String,
        `result.pricing.pricing_notes` String,
        `result.carrier.carrier_end_state` String,
        `result.carrier.carrier_name` String,
        `result.load.reference_number` String,
        `result.pricing.agreed_upon_rate` Nullable(Float64))') AS f,
      tupleElement(f, 'result.call.call_classification') AS call_classification,
      tupleElement(f, 'result.call.call_stage') AS call_stage,
      tupleElement(f, 'result.load.load_status') AS load_status,
      tupleElement(f, 'result.pricing.pricing_notes') AS pricing_notes,
      tupleElement(f, 'result.carrier.carrier_end_state') AS carrier_end_state,
      tupleElement(f, 'result.carrier.carrier_name') AS carrier_name,
      tupleElement(f, 'result.load.reference_number') AS reference_number,
      tupleElement(f, 'result.pricing.agreed_upon_rate') AS agreed_upon_rate
    FROM scoped AS s
    INNER JOIN runs AS r ON r.run_id = s.run_id
    LEFT JOIN latest AS l ON l.run_id = s.run_id
  )
SELECT run_id, started_ms, duration_seconds, user_number, call_classification, call_stage,
  load_status, pricing_notes, carrier_end_state, carrier_name, reference_number, agreed_upon_rate
FROM calls
WHERE (started_ms, run_id) < ({before_ms:Int64}, {before_run:String})
  AND ({dimension:String} = ''
       OR (call_classification != ''
           AND multiIf({dimension:String} = 'call_stage', if(call_stage = '', 'UNKNOWN', call_stage),
                       {dimension:String} = 'call_classification', call_classification,
                       {dimension:String} = 'load_status', if(load_status = '', 'UNKNOWN', load_status),
                       {dimension:String} = 'pricing_notes', if(pricing_notes = '', 'UNKNOWN', pricing_notes),
                       {dimension:String} = 'carrier_end_state', if(carrier_end_state = '', 'UNKNOWN', carrier_end_state),
                       NULL) = {value:String}))
ORDER BY started_ms DESC, run_id DESC
LIMIT {limit:UInt32}

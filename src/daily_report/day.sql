-- The one query of a daily report (src/daily_report/query.rs explains each step).
-- Parameters: org_id, node_id, excluded, start, end (UTC, [start, end)). One row: the KPI
-- counts, the breakdowns and the report's provenance (its fingerprint, as fingerprint.sql
-- computes it, and the server's version).
WITH
  window_runs AS (
    SELECT id FROM public_runs
    WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
  ),
  per_run AS (
    SELECT run_id,
      intDiv(toUnixTimestamp64Milli(minIf(at, part = 0)), 900000) AS quarter,
      sumIf(session_duration, part = 1) AS duration,
      countIf(part = 1) AS sessions,
      countIf(part = 2) AS output_rows,
      argMaxIf(flat_data, at, part = 2) AS flat_data,
      maxIf(at, part = 2) AS latest_at
    FROM (
      SELECT id AS run_id, 0 AS part, timestamp AS at, 0. AS session_duration, '' AS flat_data
      FROM public_runs
      WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
      UNION ALL
      SELECT run_id, 1, toDateTime64(0, 3, 'UTC'), max(duration), ''
      FROM public_sessions
      WHERE org_id = {org_id:String}
        AND NOT has({excluded:Array(String)}, user_number)
        AND run_id IN (SELECT id FROM window_runs)
      GROUP BY run_id, id
      UNION ALL
      SELECT run_id, 2, timestamp, 0., flat_data
      FROM public_node_outputs
      WHERE node_persistent_id = {node_id:String}
        AND run_id IN (SELECT id FROM window_runs)
    )
    GROUP BY run_id
    HAVING sessions > 0
  ),
  calls AS (
    SELECT
      duration,
      quarter,
      output_rows > 0 AS has_output,
      output_rows,
      if(output_rows > 0, toUnixTimestamp64Milli(latest_at), 0) AS latest_ms,
      JSONExtract(flat_data, 'Tuple(
        `result.call.call_classification` String,
        `result.call.call_stage` String,
        `result.transfer.transfer_reason` String,
        `result.transfer.transfer_success` String,
        `result.load.load_status` String,
        `result.carrier.carrier_qualification` String,
        `result.carrier.carrier_end_state` String,
        `result.pricing.pricing_notes` String)') AS f,
      tupleElement(f, 'result.call.call_classification') AS classification,
      tupleElement(f, 'result.call.call_stage') AS call_stage,
      tupleElement(f, 'result.transfer.transfer_reason') AS transfer_reason,
      tupleElement(f, 'result.transfer.transfer_success') = 'true' AS transfer_success,
      tupleElement(f, 'result.load.load_status') AS load_status,
      tupleElement(f, 'result.carrier.carrier_qualification') AS carrier_qualification,
      tupleElement(f, 'result.carrier.carrier_end_state') AS carrier_end_state,
      tupleElement(f, 'result.pricing.pricing_notes') AS pricing_notes,
      classification != '' AS classified
    FROM per_run
  )
SELECT
  count() AS total_calls,
  sum(duration) AS total_duration_seconds,
  if(total_calls = 0, 0., quantileExactInclusive(0.5)(duration / 60)) AS median_minutes,
  if(total_calls = 0, 0., quantileExactInclusive(0.9)(duration / 60)) AS p90_minutes,
  countIf(has_output) AS runs_with_output,
  countIf(classified) AS classified_calls,
  countIf(classified AND classification = 'success') AS success_count,
  countIf(classified AND classification = 'non_convertible') AS non_convertible_count,
  countIf(classified AND carrier_qualification = 'NOT_QUALIFIED') AS not_qualified_count,
  countIf(classified AND (classification = 'non_convertible'
                          OR carrier_qualification = 'NOT_QUALIFIED')) AS non_convertible_or_not_qualified_count,
  countIf(classified AND transfer_reason = 'CARRIER_ASKED_FOR_TRANSFER') AS carrier_asked_count,
  countIf(classified AND transfer_reason = 'READY_TO_BOOK' AND transfer_success) AS transferred_for_booking_count,
  sumMapIf([if(call_stage = '', 'UNKNOWN', call_stage)], [toUInt64(1)], classified) AS by_call_stage,
  sumMapIf([classification], [toUInt64(1)], classified) AS by_call_classification,
  sumMapIf([if(load_status = '', 'UNKNOWN', load_status)], [toUInt64(1)], classified) AS by_load_status,
  sumMapIf([if(pricing_notes = '', 'UNKNOWN', pricing_notes)], [toUInt64(1)], classified) AS by_pricing_notes,
  sumMapIf([if(carrier_end_state = '', 'UNKNOWN', carrier_end_state)], [toUInt64(1)], classified) AS by_carrier_end_state,
  sumMap([quarter], [toUInt64(1)], [toUInt64(classified)],
         [toUInt64(classified AND classification = 'success')]) AS by_quarter,
  sum(output_rows) AS output_rows,
  max(latest_ms) AS latest_output_ms,
  version() AS engine
FROM calls

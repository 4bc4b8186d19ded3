-- demo/clickhouse/generate.sql: deterministic demo data for the four source tables of the daily
-- report (demo/clickhouse/schema.sql), generated inside ClickHouse from numbers() and hashes.
--
-- Query parameters (all required, sent as `param_<name>` in the URL):
--   end_date      Date    last local day generated, e.g. 2025-12-15
--   days          UInt32  number of local days ending with end_date, e.g. 14
--   runs_per_day  UInt32  Paul Logistics' weekday volume, e.g. 300 (the seed's sample day has 271)
--   seed          UInt64  any number; same parameters -> same rows
--
-- One statement per HTTP request (the ClickHouse HTTP interface runs one statement each), in
-- order. With curl and a POSIX shell, against the test engine (tests/chdb_front/server.py) or a
-- real server:
--
--   URL='http://127.0.0.1:PORT/?database=demo&param_end_date=2025-12-15&param_days=14&param_runs_per_day=300&param_seed=1'
--   curl -sS --fail-with-body "${URL%%\?*}" --data-binary 'CREATE DATABASE IF NOT EXISTS demo'
--   for f in demo/clickhouse/schema.sql demo/clickhouse/generate.sql; do
--     awk -v RS=';\n' '{gsub(/--[^\n]*/, "")} /[^ \t\n]/ {printf "%s%c", $0, 0}' "$f" |
--       while IFS= read -r -d '' q; do curl -sS --fail-with-body "$URL" --data-binary "$q" || break; done
--   done
--
-- (Statements end with a semicolon at the end of a line; no comment or literal holds one.)
-- The tables must exist and be empty. The helper table demo_plan is dropped at the end.
--
-- Size: rows of public_runs ~= 1.53 x days x runs_per_day (Paul Logistics 1.0 per weekday and
-- 0.4 per weekend day, the second org 60 % of that, a third tenant 25 %). The default demo
-- (days 35, runs_per_day 300) is ~16,200 runs; the benchmark uses days 14, runs_per_day 47000
-- (1,009,196 runs, 999,046 sessions, 1,094,850 node outputs with seed 1; 14 s on the chdb
-- front with 2 cores). Larger sizes work the same way (INSERT ... SELECT streams in blocks);
-- raise runs_per_day or days. end_date 2025-12-15, days 14, runs_per_day 300, seed 1 gives
-- Paul Logistics 291 calls on 2025-12-15 (the seed's sample day has 271).
--
-- What the data looks like:
--   * Three orgs. Paul Logistics (org 01951f56-8c6e-7a93-a971-3d06a81a1ab0, node
--     019b099d-77fd-7e09-9d2b-cd4c476a0a19, America/Chicago, excludes +19259898099);
--     Sahyadri Freight (org 01953c2a-41d7-7b8e-b0c4-52e9a7f3d610, node
--     019b2f61-8a0e-7c3d-a5f2-3e7d9b1c4a82, Asia/Kolkata, excludes +919876500000); a third
--     tenant (org 0194f3b7-2c19-7e55-8a6d-91c04b7e2f3a, America/New_York) whose rows no
--     report of the first two may count.
--   * Runs in each org's local business hours (85 % between 07:30 and 18:30, peaking
--     around 13:00; 15 % spread over the whole day), weekends at 40 %. Run, session and output
--     ids are UUIDv7-like (time-ordered, as the platform's), so sorting by run_id is ~by time.
--   * One session per run, except ~1 % of runs with none (they belong to no org's report).
--     Callers from a pool of repeat carriers; ~2 % of runs come from the org's test number.
--     Durations log-normal around a per-stage median (0.7 min at GREETING to 5.5 min at
--     TRANSFER_SUCCEEDED), clamped to 0.5-15 minutes.
--   * Outcomes consistent with each other, chosen stage first (GREETING 8 %, LOAD_LOOKUP 10 %,
--     CARRIER_VERIFICATION 17 %, RATE_NEGOTIATION 28 %, TRANSFER_ATTEMPTED 3 %,
--     TRANSFER_SUCCEEDED 22 %, TRANSFER_FAILED 12 %): success only at TRANSFER_SUCCEEDED
--     with transfer_reason READY_TO_BOOK, transfer_success true, an agreed rate, carrier end
--     state booking_started; non_convertible at CARRIER_VERIFICATION (mostly NOT_QUALIFIED)
--     and LOAD_LOOKUP (load COVERED / CANCELLED / NOT_FOUND, and a rare unknown value
--     PENDING_REVIEW); rate_not_agreed at RATE_NEGOTIATION with NO_AGREEMENT_RATE_TOO_HIGH...
--   * ~7 % of outputs have an empty classification (half of them without the key at all);
--     GREETING outputs lack the load, pricing and transfer-reason keys; ~3 % lack the carrier
--     end state.
--   * ~3 % of runs have no output; ~5 % have 2-3 outputs of the org's node (retries: earlier
--     outputs say GREETING / other with a "partial" note, the latest is the real one); ~4 % also
--     have an output of another node of the same workflow (voicemail detector,
--     019b099d-7802-7a31-8c5e-40f2b9d7e118) claiming success, which reports must ignore.

DROP TABLE IF EXISTS demo_plan;

CREATE TABLE demo_plan (
  org UInt8, k UInt64, run_id String, ts DateTime64(3, 'UTC'), org_id String, node_id String,
  session_id String, has_session UInt8, user_number String, duration Float64,
  n_outputs UInt8, other_node UInt8, out_ts DateTime64(3, 'UTC'),
  final_data String, early_data String, other_data String)
  ENGINE = MergeTree ORDER BY tuple();

INSERT INTO demo_plan
SELECT org, k, run_id, ts, org_id, node_id, session_id, has_session, user_number, duration,
       n_outputs, other_node, out_ts, final_data, early_data, other_data
FROM (
  SELECT
    org, k,
    -- uniform draws in [0, 1), one per decision
    (cityHash64(k, 'keep') % 1000003) / 1000003 AS u_keep,
    (cityHash64(k, 'biz') % 1000003) / 1000003 AS u_biz,
    (cityHash64(k, 't1') % 1000003) / 1000003 AS u_t1,
    (cityHash64(k, 't2') % 1000003) / 1000003 AS u_t2,
    (cityHash64(k, 'ms') % 1000003) / 1000003 AS u_ms,
    (cityHash64(k, 'stage') % 1000003) / 1000003 AS u_stage,
    (cityHash64(k, 'cls') % 1000003) / 1000003 AS u_cls,
    (cityHash64(k, 'empty') % 1000003) / 1000003 AS u_empty,
    (cityHash64(k, 'reason') % 1000003) / 1000003 AS u_reason,
    (cityHash64(k, 'load') % 1000003) / 1000003 AS u_load,
    (cityHash64(k, 'qual') % 1000003) / 1000003 AS u_qual,
    (cityHash64(k, 'end') % 1000003) / 1000003 AS u_end,
    (cityHash64(k, 'price') % 1000003) / 1000003 AS u_price,
    (cityHash64(k, 'rate') % 1000003) / 1000003 AS u_rate,
    (cityHash64(k, 'z1') % 1000003) / 1000003 AS u_z1,
    (cityHash64(k, 'z2') % 1000003) / 1000003 AS u_z2,
    (cityHash64(k, 'z3') % 1000003) / 1000003 AS u_z3,
    (cityHash64(k, 'test') % 1000003) / 1000003 AS u_test,
    (cityHash64(k, 'outs') % 1000003) / 1000003 AS u_outs,
    (cityHash64(k, 'other') % 1000003) / 1000003 AS u_other,
    (cityHash64(k, 'sess') % 1000003) / 1000003 AS u_sess,
    (cityHash64(k, 'lag') % 1000003) / 1000003 AS u_lag,

    -- the org
    [ '01951f56-8c6e-7a93-a971-3d06a81a1ab0', '01953c2a-41d7-7b8e-b0c4-52e9a7f3d610',
      '0194f3b7-2c19-7e55-8a6d-91c04b7e2f3a'][org + 1] AS org_id,
    [ '019b099d-77fd-7e09-9d2b-cd4c476a0a19', '019b2f61-8a0e-7c3d-a5f2-3e7d9b1c4a82',
      '019a7c40-5d12-7f8b-9e36-b28f0d4a61c7'][org + 1] AS node_id,
    ['+19259898099', '+919876500000', '+12125550100'][org + 1] AS test_number,

    -- when: local midnight of the local day (time zones must be constants), then seconds
    toDate({end_date:Date}) - toIntervalDay({days:UInt32} - 1 - d) AS local_day,
    multiIf(org = 0, toUnixTimestamp(toDateTime(local_day, 'America/Chicago')),
            org = 1, toUnixTimestamp(toDateTime(local_day, 'Asia/Kolkata')),
            toUnixTimestamp(toDateTime(local_day, 'America/New_York'))) AS midnight,
    if(u_biz < 0.85, 27000 + (u_t1 + u_t2) / 2 * 39600, u_t1 * 86400) AS second_of_day,
    fromUnixTimestamp64Milli(toInt64(midnight) * 1000 + toInt64(second_of_day * 1000)
                             + toInt64(u_ms * 1000), 'UTC') AS ts,

    -- ids: UUIDv7 layout (48-bit ms timestamp, version 7, variant 8)
    leftPad(lower(hex(toUnixTimestamp64Milli(ts))), 12, '0') AS ms_hex,
    lower(hex(sipHash128(k, 'ids'))) AS rnd,
    concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(rnd, 1, 3),
           '-8', substring(rnd, 4, 3), '-', substring(rnd, 7, 12)) AS run_id,
    concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(rnd, 19, 3),
           '-9', substring(rnd, 22, 3), '-', substring(rnd, 21, 12)) AS session_id,

    -- who called
    u_sess >= 0.01 AS has_session,
    if(u_test < 0.02, test_number,
       if(org = 1, concat('+91', toString(9000000000 + (sipHash64(k, 'caller') % 3000) * 233323)),
                   concat('+1', toString(2014550000 + (sipHash64(k, 'caller') % 4000) * 1777)))) AS user_number,

    -- how far the call got, and everything consistent with it
    multiIf(u_stage < 0.08, 'GREETING', u_stage < 0.18, 'LOAD_LOOKUP',
            u_stage < 0.35, 'CARRIER_VERIFICATION', u_stage < 0.63, 'RATE_NEGOTIATION',
            u_stage < 0.66, 'TRANSFER_ATTEMPTED', u_stage < 0.88, 'TRANSFER_SUCCEEDED',
            'TRANSFER_FAILED') AS stage,
    multiIf(stage = 'TRANSFER_SUCCEEDED', if(u_cls < 0.82, 'success', 'other'),
            stage = 'TRANSFER_FAILED', if(u_cls < 0.5, 'carrier_dropped', 'other'),
            stage = 'TRANSFER_ATTEMPTED', 'other',
            stage = 'RATE_NEGOTIATION', if(u_cls < 0.75, 'rate_not_agreed', 'carrier_dropped'),
            stage = 'CARRIER_VERIFICATION', 'non_convertible',
            stage = 'LOAD_LOOKUP', if(u_cls < 0.85, 'non_convertible', 'other'),
            if(u_cls < 0.7, 'carrier_dropped', 'other')) AS cls0,
    multiIf(u_empty < 0.035, 'MISSING', u_empty < 0.07, '', cls0) AS classification,
    stage LIKE 'TRANSFER%' AS transferred,
    if(transferred, 'YES', 'NO') AS transfer_attempt,
    multiIf(stage = 'TRANSFER_SUCCEEDED', if(cls0 = 'success', 'READY_TO_BOOK', 'CARRIER_ASKED_FOR_TRANSFER'),
            transferred, multiIf(u_reason < 0.4, 'READY_TO_BOOK', u_reason < 0.75, 'CARRIER_ASKED_FOR_TRANSFER',
                                 u_reason < 0.95, 'NEGOTIATION_ESCALATION', 'OTHER'),
            stage = 'GREETING', 'MISSING',
            if(u_reason < 0.5, '', 'MISSING')) AS transfer_reason,
    multiIf(stage = 'TRANSFER_SUCCEEDED', 'true', stage = 'TRANSFER_ATTEMPTED', 'MISSING', 'false') AS transfer_success,
    multiIf(stage = 'GREETING', 'MISSING',
            stage = 'LOAD_LOOKUP', multiIf(u_load < 0.45, 'COVERED', u_load < 0.75, 'CANCELLED',
                                           u_load < 0.99, 'NOT_FOUND', 'PENDING_REVIEW'),
            if(u_load < 0.97, 'ACTIVE', 'COVERED')) AS load_status,
    if(stage = 'GREETING', 'MISSING', toString(4100000 + sipHash64(k, 'ref') % 900000)) AS reference_number,
    multiIf(stage IN ('GREETING', 'LOAD_LOOKUP'), 'UNKNOWN',
            stage = 'CARRIER_VERIFICATION', if(u_qual < 0.8, 'NOT_QUALIFIED', 'UNKNOWN'),
            if(u_qual < 0.04, 'NOT_QUALIFIED', 'QUALIFIED')) AS qualification,
    multiIf(u_end < 0.03, 'MISSING',
            stage = 'TRANSFER_SUCCEEDED', if(cls0 = 'success', 'booking_started', 'callback_requested'),
            stage = 'TRANSFER_FAILED', if(u_end < 0.6, 'hung_up', 'callback_requested'),
            stage = 'TRANSFER_ATTEMPTED', 'hung_up',
            stage = 'RATE_NEGOTIATION', if(u_end < 0.7, 'rate_rejected', 'hung_up'),
            stage = 'CARRIER_VERIFICATION', 'not_qualified',
            stage = 'LOAD_LOOKUP', 'load_unavailable',
            'hung_up') AS end_state,
    ['Swift Haul LLC', 'Lone Star Carriers', 'Great Lakes Freight', 'Redline Transport',
     'Prairie Express', 'Blue Ox Trucking', 'Summit Logistics', 'Gulf Coast Hauling',
     'Iron Horse Freight', 'Rio Grande Lines', 'Northstar Carriers', 'Delta Road Inc.'][
       (sipHash64(k, 'caller') % 12) + 1] AS carrier_name,
    multiIf(stage = 'GREETING', 'MISSING',
            stage = 'TRANSFER_SUCCEEDED' AND cls0 = 'success',
              if(u_price < 0.7, 'AGREEMENT_REACHED_CARRIER_CONFIRMED', 'AGREEMENT_REACHED_PENDING_CONFIRMATION'),
            transferred, if(u_price < 0.5, 'AGREEMENT_REACHED_PENDING_CONFIRMATION', 'NO_AGREEMENT_RATE_TOO_HIGH'),
            stage = 'RATE_NEGOTIATION', 'NO_AGREEMENT_RATE_TOO_HIGH',
            'NOT_DISCUSSED') AS pricing_notes,
    if(pricing_notes LIKE 'AGREEMENT%', toString(round(1200 + u_rate * 2800)), 'MISSING') AS agreed_rate,

    -- duration: log-normal around the stage's median (z ~ N(0, 1) from three uniforms)
    (u_z1 + u_z2 + u_z3 - 1.5) * 2 AS z,
    transform(stage, ['GREETING', 'LOAD_LOOKUP', 'CARRIER_VERIFICATION', 'RATE_NEGOTIATION',
                      'TRANSFER_ATTEMPTED', 'TRANSFER_SUCCEEDED', 'TRANSFER_FAILED'],
              [0.7, 1.3, 2.2, 3.8, 4.5, 5.5, 4.8], 3.0) AS median_minutes,
    round(greatest(0.5, least(15.0, median_minutes * exp(0.55 * z))) * 60, 1) AS duration,

    -- outputs: none (3 %), retried 2-3 times (5 %), else one; another node's output (4 %)
    multiIf(u_outs < 0.03, 0, u_outs < 0.055, 2, u_outs < 0.08, 3, 1) AS n_outputs,
    u_other < 0.04 AS other_node,
    ts + toIntervalMillisecond(toInt64(duration * 1000) + 1000 + toInt64(u_lag * 4000)) AS out_ts,

    concat('{', arrayStringConcat(arrayFilter(x -> x != '', [
      if(classification = 'MISSING', '', concat('"result.call.call_classification":', toJSONString(classification))),
      concat('"result.call.call_stage":', toJSONString(stage)),
      concat('"result.transfer.transfer_attempt":', toJSONString(transfer_attempt)),
      if(transfer_reason = 'MISSING', '', concat('"result.transfer.transfer_reason":', toJSONString(transfer_reason))),
      if(transfer_success = 'MISSING', '', concat('"result.transfer.transfer_success":', transfer_success)),
      if(load_status = 'MISSING', '', concat('"result.load.load_status":', toJSONString(load_status))),
      if(reference_number = 'MISSING', '', concat('"result.load.reference_number":', toJSONString(reference_number))),
      concat('"result.carrier.carrier_qualification":', toJSONString(qualification)),
      if(end_state = 'MISSING', '', concat('"result.carrier.carrier_end_state":', toJSONString(end_state))),
      concat('"result.carrier.carrier_name":', toJSONString(carrier_name)),
      if(pricing_notes = 'MISSING', '', concat('"result.pricing.pricing_notes":', toJSONString(pricing_notes))),
      if(agreed_rate = 'MISSING', '', concat('"result.pricing.agreed_upon_rate":', agreed_rate))
    ]), ','), '}') AS final_data,
    concat('{"result.call.call_classification":"other","result.call.call_stage":"GREETING",',
           '"result.call.notes":"partial output (retried)","result.transfer.transfer_attempt":"NO",',
           '"result.transfer.transfer_success":false,"result.carrier.carrier_name":',
           toJSONString(carrier_name), '}') AS early_data,
    '{"result.call.call_classification":"success","result.call.call_stage":"TRANSFER_SUCCEEDED","voicemail.detected":false}' AS other_data
  FROM (
    SELECT org, intDiv(number, {runs_per_day:UInt32}) AS d, number % {runs_per_day:UInt32} AS i,
           cityHash64({seed:UInt64}, org, number) AS k
    FROM numbers(toUInt64({days:UInt32}) * {runs_per_day:UInt32})
    ARRAY JOIN [0, 1, 2] AS org
  )
  WHERE u_keep < [1.0, 0.6, 0.25][org + 1] * if(toDayOfWeek(local_day) >= 6, 0.4, 1.0)
);

INSERT INTO public_runs (id, timestamp)
SELECT run_id, ts FROM demo_plan;

INSERT INTO public_sessions (id, run_id, org_id, user_number, duration)
SELECT session_id, run_id, org_id, user_number, duration FROM demo_plan WHERE has_session;

INSERT INTO public_node_outputs (id, run_id, node_persistent_id, flat_data, timestamp)
SELECT
  concat(substring(run_id, 1, 15), substring(oh, 1, 3), '-a', substring(oh, 4, 3), '-',
         substring(oh, 7, 12)),
  run_id, node, data, t
FROM (
  SELECT k, run_id,
         if(j < n_outputs, node_id, '019b099d-7802-7a31-8c5e-40f2b9d7e118') AS node,
         multiIf(j >= n_outputs, other_data, j = n_outputs - 1, final_data, early_data) AS data,
         if(j >= n_outputs, out_ts - toIntervalMillisecond(500),
            out_ts - toIntervalSecond(45 * (n_outputs - 1 - j))) AS t,
         lower(hex(sipHash128(k, 'out', j))) AS oh
  FROM demo_plan
  ARRAY JOIN range(toUInt8(n_outputs + other_node)) AS j
);

INSERT INTO public_nodes (id, persistent_id, org_id, name) VALUES
  ('019b099d-77fe-7111-8a01-0c4b2e6f9d10', '019b099d-77fd-7e09-9d2b-cd4c476a0a19', '01951f56-8c6e-7a93-a971-3d06a81a1ab0', 'Broker agent'),
  ('019b099d-7803-7222-8b02-1d5c3f7a0e21', '019b099d-7802-7a31-8c5e-40f2b9d7e118', '01951f56-8c6e-7a93-a971-3d06a81a1ab0', 'Voicemail detector'),
  ('019b2f61-8a0f-7333-8c03-2e6d4a8b1f32', '019b2f61-8a0e-7c3d-a5f2-3e7d9b1c4a82', '01953c2a-41d7-7b8e-b0c4-52e9a7f3d610', 'Broker agent'),
  ('019a7c40-5d13-7444-8d04-3f7e5b9c2a43', '019a7c40-5d12-7f8b-9e36-b28f0d4a61c7', '0194f3b7-2c19-7e55-8a6d-91c04b7e2f3a', 'Broker agent');

DROP TABLE demo_plan;

-- demo/postgres/generate.sql — deterministic demo data for public."user" and public.calllog
-- (the schema in demo/postgres/schema.sql). Pure SQL, run by psql:
--
--   psql -X -v ON_ERROR_STOP=1 -v users=2000 -v days=90 -v rows=300000 \
--        -v end_date="'2026-11-22'" [-v seed=42] [-v timing=1] -f demo/postgres/generate.sql URL
--
-- Every variable is optional (defaults: users 2000, days 90, rows 300000, end_date 2026-11-22,
-- seed 42); end_date may be given with or without the inner quotes. The tables must exist and be
-- empty (scripts/pg-demo-load creates them). Same variables -> same rows, byte for byte, in the same
-- physical order (check with demo/postgres/checksum.sql).
--
-- Determinism: every random choice is a pure function of (seed, user number, row number) through
-- hashint8extended() (the function hash partitioning relies on, so stable across versions), not
-- setseed()/random(): random() depends on the order in which the plan calls it, this does not.
--
-- What the data looks like (it imitates an Indian calling app; times are Asia/Kolkata days):
--   * `rows` calllog rows exactly, over `days` local (IST, +05:30) days ending with end_date;
--     created_on is stored in UTC (so it starts at 18:30 UTC the day before the first local day),
--     with microseconds, busy in business hours (10:00-18:00 IST), quiet at night, a weekend day
--     about half a weekday; heap order = created_on order, as an append-only log has.
--     With the defaults, the last 30 local days hold ~1/3 of the rows (10M rows -> ~3.3M).
--   * `users` users. Per-user volume is Zipf-like ((rank+2)^-1: top user ~5 %, top 10 ~24 %, a long
--     tail); some users join late or stop early (fewer days active); ~3 % never call.
--   * Per-user failure rates: ~80 % between 5 and 30 %, ~6 % near 0, ~9 % 30-60 %, ~5 % >= 60 %;
--     pinned users: #7 "Rahul Verma" fails 100 %, #8 "Priya Nair" 0 % (both with plenty of sessions).
--     Users #1-#6 carry the names and rates of the old tool's sample (Anushka 50 %, Jahanvi 33 %,
--     Akhilesh 26 %, Adit Lal 25 %, Ayush 19 %, Vishnu Vardhan 27 %).
--     A two-hour telephony "outage" (14:00-16:00 IST, 11 days before end_date) fails >= 85 %
--     of the sessions of every user whose rate is not exactly 0.
--   * Names: Indian and US first/last names, unique by construction except on purpose: pairs
--     (#9 "Ayush" = #5, #11 "Priya Nair" = #8, every user k = 11 mod 150 repeats k-1) and triples
--     (k = 12 mod 600 repeats k-2); NULL names (#10 and k = 13 mod 97).
--   * Orphans: rows whose user_id has no "user" row: ~0.1 % NULL user_id, and rows of
--     max(2, users/250) "ghost" uuids that are not in public."user". Ghost rows violate the
--     declared foreign key, as rows in a dirty production database can: they are loaded with
--     session_replication_role = replica (superuser only; without superuser they get NULL user_id).
--   * Not sessions: ~3 % NULL session_id, ~0.5 % blank ('  ' mostly, also '' and E' \t').
--     Sessions have UUID session ids; failures have NULL exotel_call_sid (88 %) or a blank one
--     ('', ' ', '   ', E'\t'); connected calls have 32-hex-digit Exotel call SIDs.
\set ON_ERROR_STOP on
\if :{?users}
\else
  \set users 2000
\endif
\if :{?days}
\else
  \set days 90
\endif
\if :{?rows}
\else
  \set rows 300000
\endif
\if :{?end_date}
\else
  \set end_date '''2026-11-22'''
\endif
\if :{?seed}
\else
  \set seed 42
\endif
\if :{?timing}
  \timing on
\endif

CREATE FUNCTION pg_temp.fail(msg text) RETURNS int LANGUAGE plpgsql AS
$$BEGIN RAISE EXCEPTION '%', msg; END$$;

-- Validate the variables and derive the globals (as psql variables).
SELECT pg_temp.fail('users must be an integer >= 1, days an integer in 1..3650, rows an integer >= 0, seed an integer')
WHERE NOT (:'users' ~ '^\d+$' AND :'days' ~ '^\d+$' AND :'rows' ~ '^\d+$' AND :'seed' ~ '^-?\d+$'
           AND :'users'::bigint >= 1 AND :'days'::int BETWEEN 1 AND 3650) \g /dev/null
SELECT btrim(:'end_date', '''')::date AS end_day \gset
SELECT (:'end_day'::date - (:days - 1))                    AS start_day,
       extract(dow FROM :'end_day'::date - (:days - 1))::int AS dow0,   -- 0 = Sunday
       :days - 12                                            AS outage_day,
       greatest(2, :users / 250)                             AS ghosts,
       current_setting('is_superuser')::bool                 AS su
\gset
-- Hour-of-day profile (IST, hours 0..23) as the lower bounds of 23 buckets for width_bucket().
SELECT array_agg(c ORDER BY h)::text AS hour_cdf
FROM (SELECT h, sum(w) OVER (ORDER BY h) / sum(w) OVER () AS c
      FROM unnest(ARRAY[0.6, 0.3, 0.2, 0.15, 0.2, 0.5, 1.2, 2.5, 4.5, 7, 9, 9.5,
                        8.5, 7.5, 8.5, 9, 8.5, 7.5, 6, 5, 4.2, 3.2, 2, 1.2]::float8[])
           WITH ORDINALITY AS t(w, h)) s
WHERE h < 24 \gset

SELECT pg_temp.fail('public.calllog or public."user" is not empty: load into empty tables (scripts/pg-demo-load --replace drops and recreates them)')
WHERE EXISTS (SELECT 1 FROM public.calllog) OR EXISTS (SELECT 1 FROM public."user") \g /dev/null

-- Seeded pure functions of (i, stream), inlined by the planner:
--   u      a uniform double in [0, 1)
--   uuid4  a version-4 UUID (the version and RFC 4122 variant bits set, as apps generate them)
--   hex32  32 hex digits (what Exotel call SIDs look like)
SELECT format($f$CREATE FUNCTION pg_temp.u(i bigint, stream int) RETURNS float8
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ((hashint8extended(i, %1$s::bigint * 1024 + stream) >> 11) & 9007199254740991)::float8
               / 9007199254740992.0 $$$f$, :seed),
       format($f$CREATE FUNCTION pg_temp.uuid4(i bigint, stream int) RETURNS uuid
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (lpad(to_hex(hashint8extended(i, %1$s::bigint * 1024 + stream) & -61441 | 16384), 16, '0')
                || to_hex(hashint8extended(i, %1$s::bigint * 1024 + stream + 512)
                          & 4611686018427387903 | -9223372036854775808))::uuid $$$f$, :seed),
       format($f$CREATE FUNCTION pg_temp.hex32(i bigint, stream int) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT lpad(to_hex(hashint8extended(i, %1$s::bigint * 1024 + stream)), 16, '0')
               || lpad(to_hex(hashint8extended(i, %1$s::bigint * 1024 + stream + 512)), 16, '0') $$$f$, :seed)
\gexec

BEGIN;
SET LOCAL work_mem = '1GB';
SET LOCAL synchronous_commit = off;

-- Users, ghosts (ids with no "user" row) and one pseudo-user for NULL user_id.
CREATE TEMP TABLE demo_users ON COMMIT DROP AS
WITH lists AS (
  SELECT ARRAY[
    'Aarav','Aditi','Aditya','Akash','Amit','Ananya','Anil','Anjali','Ankit','Arjun',
    'Aruna','Bhavna','Deepak','Divya','Gaurav','Harsha','Ishaan','Kavya','Kiran','Krishna',
    'Lakshmi','Manish','Meera','Neha','Nikhil','Pooja','Pradeep','Priya','Rahul','Rajesh',
    'Ramesh','Ravi','Riya','Rohan','Sachin','Sai Kiran','Sanjay','Shreya','Sneha','Suresh',
    'Swati','Tanvi','Varun','Vikram','Yash','Anushka','Jahanvi','Akhilesh','Ayush','Vishnu Vardhan',
    'Adit','Farhan','Zoya','Imran','Sameer','Gurpreet','Harpreet','Mohan','Sunita','Kamala',
    'James','Mary','Michael','Jennifer','David','Linda','Robert','Sarah','William','Emily',
    'Daniel','Jessica','Matthew','Ashley','Christopher','Amanda','Joshua','Megan','Andrew','Lauren',
    'Ryan','Olivia','Ethan','Emma','Noah','Sophia','Tyler','Hannah','Brandon','Chloe']::text[] AS f,
  ARRAY[
    'Sharma','Verma','Gupta','Singh','Kumar','Patel','Reddy','Rao','Nair','Iyer',
    'Menon','Pillai','Das','Bose','Chatterjee','Mukherjee','Banerjee','Joshi','Kulkarni','Deshpande',
    'Agarwal','Mehta','Shah','Desai','Jain','Malhotra','Kapoor','Khanna','Chopra','Bhat',
    'Hegde','Naidu','Yadav','Mishra','Tiwari','Pandey','Saxena','Srivastava','Lal','Chauhan',
    'Khan','Siddiqui','Gill','Sandhu','Krishnan','Subramanian','Venkatesh','Gowda','Shetty','Kamath',
    'Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
    'Wilson','Anderson','Taylor','Thomas','Moore','Jackson','Martin','Lee','Thompson','White',
    'Harris','Clark','Lewis','Walker','Hall','Young','King','Wright','Scott','Green']::text[] AS l
), base AS (
  SELECT k::bigint AS k, 'user'::text AS kind FROM generate_series(1, :users) AS k
  UNION ALL SELECT :users + g, 'ghost' FROM generate_series(1, :ghosts) AS g
  UNION ALL SELECT :users + :ghosts + 1, 'null'
), keyed AS (
  SELECT b.*, cardinality(lists.f) * (cardinality(lists.l) + 1) AS nslots,
         CASE WHEN kind = 'user' AND k > 11 AND k % 600 = 12 THEN k - 2
              WHEN kind = 'user' AND k > 11 AND k % 150 = 11 THEN k - 1
              ELSE k END AS name_key,
         kind = 'user' AND k <= 11 AS pinned,
         row_number() OVER (ORDER BY pg_temp.u(k, 117), k) AS generic_rank
  FROM base b CROSS JOIN lists
), slot_pool AS (
  -- the (first name, last name or none) slots in a seeded random order; user key r takes the r-th
  SELECT slot, row_number() OVER (ORDER BY pg_temp.u(slot, 119), slot) AS r, nf, nl
  FROM (SELECT cardinality(f) AS nf, cardinality(l) AS nl FROM lists) c,
       generate_series(0, c.nf * (c.nl + 1) - 1) AS slot
), slots AS (
  SELECT y.*, p.slot, p.nf, p.nl, lists.f, lists.l
  FROM keyed y CROSS JOIN lists
  JOIN slot_pool p ON p.r = (y.name_key - 1) % y.nslots + 1
), attrs AS (
  SELECT k, kind, pinned, name_key,
    CASE kind WHEN 'user' THEN pg_temp.uuid4(k, 130) WHEN 'ghost' THEN pg_temp.uuid4(k, 131) END AS user_id,
    CASE WHEN kind <> 'user' THEN NULL
         WHEN pinned THEN (ARRAY['Anushka','Jahanvi','Akhilesh','Adit Lal','Ayush','Vishnu Vardhan',
                                 'Rahul Verma','Priya Nair','Ayush',NULL,'Priya Nair'])[k::int]
         WHEN k % 97 = 13 THEN NULL
         WHEN slot / nf = nl THEN f[1 + slot % nf]
         ELSE f[1 + slot % nf] || ' ' || l[1 + slot / nf] END AS name,
    CASE WHEN pinned THEN (ARRAY[0.5, 0.3333, 0.2619, 0.25, 0.1892, 0.2742, 1.0, 0.0, 0.12, 0.2, 0.4])[k::int]
         WHEN pg_temp.u(k, 111) < 0.06 THEN 0.015 * pg_temp.u(k, 112)
         WHEN pg_temp.u(k, 111) < 0.86 THEN 0.05 + 0.25 * pg_temp.u(k, 112) ^ 1.3
         WHEN pg_temp.u(k, 111) < 0.95 THEN 0.30 + 0.30 * pg_temp.u(k, 112)
         ELSE 0.60 + 0.38 * pg_temp.u(k, 112) END::float8 AS fr,
    CASE WHEN pinned THEN least(:users, (ARRAY[400, 1000, 80, 200, 20, 25, 60, 40, 300, 150, 500])[k::int])
         WHEN kind = 'null' THEN least(:users, 150)
         ELSE generic_rank END AS rnk,
    -- active days [s, e] (0-based); most users are active over the whole span
    CASE WHEN pinned OR kind = 'null' OR pg_temp.u(k, 113) < 0.8 THEN 0
         ELSE floor(pg_temp.u(k, 114) * :days * 0.9)::int END AS s,
    NOT pinned AND kind = 'user' AND pg_temp.u(k, 118) < 0.03 AS never_calls
  FROM slots
)
SELECT a.*,
       CASE WHEN pinned OR kind = 'null' OR pg_temp.u(k, 115) < 0.88 THEN :days - 1
            ELSE s + floor(pg_temp.u(k, 116) * (:days - s))::int END AS e
FROM attrs a;

-- Row allocation: user k gets rows off+1 .. off+n (global row numbers), n proportional to
-- (rank+2)^-1 * active days, rounded so that the total is exactly :rows.
CREATE TEMP TABLE demo_alloc ON COMMIT DROP AS
SELECT k, kind, user_id, fr, s, e, hi - lag(hi, 1, 0::bigint) OVER (ORDER BY k) AS n,
       lag(hi, 1, 0::bigint) OVER (ORDER BY k) AS off
FROM (SELECT *, CASE WHEN k = max(k) OVER () THEN :rows::bigint
                     ELSE floor(:rows::float8 * sum(w) OVER (ORDER BY k) / sum(w) OVER ())::bigint END AS hi
      FROM (SELECT *, CASE WHEN never_calls THEN 0
                           ELSE (rnk + 2.0)::float8 ^ -1 * (e - s + 1) / :days END AS w
            FROM demo_users) w) c;

INSERT INTO public."user" (user_id, name)
SELECT user_id, name FROM demo_users WHERE kind = 'user' ORDER BY k;

-- Ghost user ids violate the declared foreign key on purpose (see the header): skip FK triggers.
\if :su
SET LOCAL session_replication_role = replica;
\endif

INSERT INTO public.calllog (session_id, user_id, exotel_call_sid, created_on)
SELECT session_id, user_id, exotel_call_sid, created_on
FROM (
  SELECT g.i,
    CASE WHEN a.kind = 'ghost' AND NOT :'su'::bool THEN NULL ELSE a.user_id END AS user_id,
    CASE WHEN v.us < 0.03   THEN NULL
         WHEN v.us < 0.0335 THEN '  '
         WHEN v.us < 0.0345 THEN ''
         WHEN v.us < 0.035  THEN E' \t'
         ELSE pg_temp.uuid4(g.i, 9)::text END AS session_id,
    CASE WHEN v.us < 0.035 THEN            -- not a session: the call id may be anything
              CASE WHEN pg_temp.u(g.i, 6) < 0.6 THEN NULL ELSE pg_temp.hex32(g.i, 10) END
         WHEN pg_temp.u(g.i, 6) < CASE WHEN a.fr = 0 THEN 0
                                       WHEN t.d = :outage_day AND t.h IN (14, 15) THEN greatest(a.fr, 0.85)
                                       ELSE a.fr END THEN
              CASE WHEN pg_temp.u(g.i, 7) < 0.88 THEN NULL
                   WHEN pg_temp.u(g.i, 7) < 0.93 THEN ''
                   WHEN pg_temp.u(g.i, 7) < 0.97 THEN ' '
                   WHEN pg_temp.u(g.i, 7) < 0.99 THEN '   '
                   ELSE E'\t' END
         ELSE pg_temp.hex32(g.i, 10) END AS exotel_call_sid,
    -- local (IST) day + hour + uniform offset within the hour, minus 5:30 -> UTC
    :'start_day'::timestamp
      + (t.d * 86400 + t.h * 3600 + pg_temp.u(g.i, 4) * 3600 - 19800) * interval '1 second' AS created_on
  FROM demo_alloc a
  CROSS JOIN LATERAL generate_series(a.off + 1, a.off + a.n) AS g(i)
  CROSS JOIN LATERAL (SELECT a.s + floor(pg_temp.u(g.i, 1) * (a.e - a.s + 1))::int AS d0,
                             pg_temp.u(g.i, 5) AS us) v
  -- weekends: 45 % of the Saturday/Sunday draws move to a weekday of the week before/after
  CROSS JOIN LATERAL (
    SELECT CASE WHEN (:dow0 + v.d0) % 7 = 6 AND pg_temp.u(g.i, 2) < 0.45
                  THEN greatest(a.s, v.d0 - 1 - floor(pg_temp.u(g.i, 8) * 5)::int)
                WHEN (:dow0 + v.d0) % 7 = 0 AND pg_temp.u(g.i, 2) < 0.45
                  THEN least(a.e, v.d0 + 1 + floor(pg_temp.u(g.i, 8) * 5)::int)
                ELSE v.d0 END AS d,
           width_bucket(pg_temp.u(g.i, 3), :'hour_cdf'::float8[]) AS h) t
) r
ORDER BY created_on, i;

COMMIT;

VACUUM (ANALYZE) public."user", public.calllog;

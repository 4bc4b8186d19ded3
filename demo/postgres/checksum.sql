-- demo/postgres/checksum.sql — content fingerprint of the demo tables, to check that the generator
-- is deterministic (same options -> same output). Order-independent (sums of 64-bit hashes) plus an
-- order-dependent one over the first/last 10000 rows in physical order.
--   psql -X -At -f demo/postgres/checksum.sql URL
SELECT 'user' AS tbl, count(*) AS n,
       sum(hashtextextended(user_id::text || '|' || coalesce(name, '<null>'), 0)::numeric) AS h
FROM public."user"
UNION ALL
SELECT 'calllog', count(*),
       sum(hashtextextended(concat_ws('|', coalesce(session_id, '<null>'), coalesce(user_id::text, '<null>'),
                                      coalesce(exotel_call_sid, '<null>'), created_on::text), 0)::numeric)
FROM public.calllog
UNION ALL
SELECT 'heap-order', count(*), sum(hashtextextended(concat_ws('|', ord, session_id, created_on::text), 0)::numeric)
FROM (SELECT row_number() OVER () AS ord, * FROM (SELECT ctid, session_id, created_on FROM public.calllog
      WHERE ctid < '(120,0)'::tid) s) t;

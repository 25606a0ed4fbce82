"""The data every PostgreSQL test sees (loaded once per session)."""

from __future__ import annotations

SCHEMA_SQL = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    amount numeric(12,2) NOT NULL,
    raw_amount numeric,
    status text,
    created_at timestamptz NOT NULL,
    tags text[],
    payload jsonb,
    ref uuid,
    wait interval
);
COMMENT ON TABLE sales.orders IS 'Orders from the shop';
COMMENT ON COLUMN sales.orders.amount IS 'Amount in EUR';
INSERT INTO sales.orders
SELECT i, 1 + i % 50, round((i * 1.25)::numeric, 2), i * 1000000000.123456789,
       (ARRAY['new','paid','shipped'])[1 + i % 3],
       TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 hour', ARRAY['t' || (i % 4)], jsonb_build_object('i', i),
       md5(i::text)::uuid, (i % 5) * INTERVAL '1 day'
FROM generate_series(1, 1000) i;
CREATE INDEX orders_created ON sales.orders (created_at);
CLUSTER sales.orders USING orders_created;
CREATE VIEW sales.big_orders AS SELECT id, amount, status FROM sales.orders WHERE amount > 1000;
CREATE MATERIALIZED VIEW sales.daily AS
    SELECT created_at::date AS day, count(*) AS orders, sum(amount) AS total FROM sales.orders GROUP BY 1;
CREATE TABLE sales.events (id bigint, event_date date NOT NULL, country text) PARTITION BY RANGE (event_date);
CREATE TABLE sales.events_2026_01 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE sales.events_2026_02 PARTITION OF sales.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO sales.events SELECT i, DATE '2026-01-01' + (i % 59), (ARRAY['CZ','DE','US'])[1 + i % 3]
FROM generate_series(1, 5900) i;
CREATE TABLE public.increments (id integer PRIMARY KEY, v text, updated_at timestamptz NOT NULL);
INSERT INTO public.increments SELECT i, 'v' || i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 minute'
FROM generate_series(1, 100) i;
ANALYZE;
"""

ORDERS_ROWS = 1000
EVENTS_ROWS = 5900
INCREMENTS_ROWS = 100

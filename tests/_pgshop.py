"""A second PostgreSQL database for the security and corpus tests: a shop in ``public`` (where an
unqualified name finds it through PostgreSQL's default ``search_path``), a table registered but
granted to another group (``customers_pii``), and tables never registered (``salaries``,
``hr.reviews``) — the shape the attack run used.

Registered ids equal the table names, so a query over the ids also runs directly in the database:
that is how the differential tests compare the rewritten SQL with the original.
"""

from __future__ import annotations

DBNAME = "agnes_shop"

SCHEMA_SQL = """
CREATE TABLE customers (
    customer_id integer PRIMARY KEY,
    name text NOT NULL,
    country text NOT NULL,
    segment text NOT NULL,
    signup_date date NOT NULL
);
INSERT INTO customers
SELECT i, 'Customer ' || i, (ARRAY['CZ','SK','DE','US','GB','FR'])[1 + i % 6],
       (ARRAY['consumer','smb','enterprise'])[1 + i % 3], DATE '2024-01-01' + (i * 7) % 700
FROM generate_series(1, 600) i;

CREATE TABLE orders (
    order_id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    order_date date NOT NULL,
    status text NOT NULL,
    amount numeric(12,2) NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL,
    tags text[],
    payload jsonb
);
INSERT INTO orders
SELECT i, 1 + (i * 37) % 600, DATE '2025-01-01' + (i * 13) % 420,
       (ARRAY['new','paid','shipped','returned'])[1 + (i * 7) % 4],
       round(((i * 7919) % 100000) / 100.0, 2), CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'EUR' END,
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + ((i * 13) % 420) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second',
       ARRAY['t' || (i % 4), 'c' || (i % 3)], jsonb_build_object('channel', (ARRAY['web','app','shop'])[1 + i % 3],
       'items', 1 + i % 5)
FROM generate_series(1, 6000) i;
CREATE INDEX orders_date ON orders (order_date);

CREATE TABLE products (
    product_id integer PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    price numeric(10,2) NOT NULL
);
INSERT INTO products
SELECT i, 'Product ' || i, (ARRAY['books','games','garden','kitchen','toys'])[1 + i % 5], 1 + (i * 31) % 200
FROM generate_series(1, 80) i;

CREATE TABLE order_items (
    order_id bigint NOT NULL,
    line integer NOT NULL,
    product_id integer NOT NULL,
    quantity integer NOT NULL,
    unit_price numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, line)
);
INSERT INTO order_items
SELECT o, l, 1 + (o * l * 17) % 80, 1 + (o + l) % 4, 1 + ((o * l * 31) % 200)
FROM generate_series(1, 6000) o, generate_series(1, 3) l WHERE l <= 1 + o % 3;

-- Registered, but granted only to another group.
CREATE TABLE customers_pii (customer_id integer, email text, ssn text);
INSERT INTO customers_pii SELECT i, 'person' || i || '@example.com', 'SSN-SECRET-' || i FROM generate_series(1, 600) i;

-- Never registered.
CREATE TABLE salaries (employee text, salary integer);
INSERT INTO salaries VALUES ('ceo', 999999), ('cfo', 888888);
CREATE SCHEMA hr;
CREATE TABLE hr.reviews (employee text, rating text);
INSERT INTO hr.reviews VALUES ('ceo', 'SECRET-REVIEW');
-- A table whose name looks like a system table; registered under the id pg_orders.
CREATE TABLE pg_orders AS SELECT order_id, amount FROM orders WHERE order_id <= 100;
ANALYZE;
"""

#: id -> (schema, table) of what the tests register; ids equal the names in ``public``.
REGISTERED = {
    "customers": ("public", "customers"),
    "orders": ("public", "orders"),
    "products": ("public", "products"),
    "order_items": ("public", "order_items"),
    "customers_pii": ("public", "customers_pii"),
    "pg_orders": ("public", "pg_orders"),
}
#: The analysts' grants; customers_pii goes to the ``hr`` group only.
ANALYST_TABLES = ("customers", "orders", "products", "order_items", "pg_orders")
SECRET_MARKERS = ("SSN-SECRET", "999999", "888888", "SECRET-REVIEW", "@example.com")

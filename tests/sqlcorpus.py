"""Realistic analyst queries per dialect, for the validator's corpus tests.

Each list holds the questions a data analyst really asks of the test data — revenue by month,
country and segment, top-N, cohorts and retention, funnels, running totals and moving averages,
percentiles, share of total, year-over-year, de-duplication, gaps and islands, histograms, string
cleanup, date arithmetic, JSON and array fields — written in as many syntactic shapes as
possible (CTEs, recursion, subqueries, every kind of join, set operations, grouping sets, window
frames, FILTER, casts, comments, sampling, the dialect's own syntax...). The tests use them to
prove that the validator refuses none of them and that its rewriting keeps their meaning (the
rewritten query returns the same rows as the original).

* ``DUCKDB_ANALYST`` reads the demo lake (``agnes_core.demo.write_demo_lake``) through the ids
  ``events``, ``orders`` and ``customers``.
* ``POSTGRES_ANALYST`` reads the shop database (``tests/_pgshop.py``) through the ids
  ``customers``, ``orders``, ``products``, ``order_items`` and ``pg_orders``.

Every query is one SELECT (possibly with CTEs), parses with sqlglot in its dialect, reads only
those tables (unqualified), calls nothing that reaches files, other databases, the catalog or the
clock, and is deterministic: ordered results break every tie, floating-point sums are rounded,
ordered aggregates (string_agg, list, array_agg) have an ORDER BY, and TABLESAMPLE always has a
seed (REPEATABLE). Nearly all of them return rows on the test data.
"""

from __future__ import annotations

DUCKDB_ANALYST: list[str] = [
    # revenue by month
    """
    SELECT date_trunc('month', order_date) AS month,
           count(*) AS orders,
           round(sum(amount), 2) AS revenue
    FROM orders
    WHERE status IN ('paid', 'shipped', 'delivered')
    GROUP BY 1
    ORDER BY 1
    """,
    # revenue by customer country
    """
    SELECT c.country,
           round(sum(o.amount), 2) AS revenue,
           count(DISTINCT o.customer_id) AS buyers
    FROM orders AS o
    JOIN customers AS c ON c.customer_id = o.customer_id
    WHERE o.status <> 'returned'
    GROUP BY c.country
    ORDER BY revenue DESC, c.country
    """,
    # mixed-case unquoted identifiers
    """
    SELECT Country, ROUND(SUM(Amount), 2) AS Revenue, COUNT(*) AS NumEvents
    FROM Events
    GROUP BY Country
    ORDER BY Revenue DESC, Country
    """,
    # top 10 customers by spend
    """
    SELECT customer_id, count(*) AS orders, round(sum(amount), 2) AS spend
    FROM orders
    GROUP BY customer_id
    ORDER BY spend DESC, customer_id
    LIMIT 10
    """,
    # segment x status with GROUP BY ALL / ORDER BY ALL
    """
    SELECT c.segment, o.status, count(*) AS n, round(avg(o.amount), 2) AS avg_amount
    FROM orders o
    JOIN customers c USING (customer_id)
    GROUP BY ALL
    ORDER BY ALL
    """,
    # latest order per customer with QUALIFY
    """
    SELECT customer_id, order_id, order_date, amount
    FROM orders
    WHERE customer_id <= 50
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY order_date DESC, order_id DESC) = 1
    ORDER BY customer_id
    """,
    # de-duplicate: first event of each session with ROW_NUMBER in a subquery
    """
    SELECT session_id, user_id, country, ts
    FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY ts, user_id) AS rn
        FROM events
        WHERE event_date = DATE '2026-01-15'
    ) t
    WHERE rn = 1
    ORDER BY ts, session_id
    """,
    # weekly cohorts by first order
    """
    WITH first_orders AS (
        SELECT customer_id, min(order_date) AS first_date
        FROM orders
        GROUP BY customer_id
    ), activity AS (
        SELECT f.customer_id,
               date_trunc('week', f.first_date) AS cohort_week,
               date_diff('week', date_trunc('week', f.first_date), date_trunc('week', o.order_date)) AS week_number
        FROM first_orders f
        JOIN orders o USING (customer_id)
    )
    SELECT cohort_week, week_number, count(DISTINCT customer_id) AS active_customers
    FROM activity
    GROUP BY ALL
    ORDER BY cohort_week, week_number
    """,
    # monthly retention with cohort sizes
    """
    WITH cohorts AS (
        SELECT customer_id, date_trunc('month', min(order_date)) AS cohort
        FROM orders
        GROUP BY customer_id
    ), sizes AS (
        SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort
    ), monthly AS (
        SELECT DISTINCT c.cohort, date_trunc('month', o.order_date) AS month, o.customer_id
        FROM cohorts c
        JOIN orders o ON o.customer_id = c.customer_id
    )
    SELECT m.cohort, m.month, count(*) AS retained, s.size,
           round(100.0 * count(*) / s.size, 1) AS retention_pct
    FROM monthly m
    JOIN sizes s ON s.cohort = m.cohort
    GROUP BY m.cohort, m.month, s.size
    ORDER BY m.cohort, m.month
    """,
    # customer funnel
    """
    WITH per_customer AS (
        SELECT c.customer_id,
               count(o.order_id) AS orders,
               count(o.order_id) FILTER (WHERE o.status = 'delivered') AS delivered,
               max(o.amount) AS max_amount
        FROM customers c
        LEFT JOIN orders o ON o.customer_id = c.customer_id
        GROUP BY c.customer_id
    )
    SELECT 'signed up' AS step, 1 AS step_no, count(*) AS customers FROM per_customer
    UNION ALL
    SELECT 'ordered', 2, count(*) FROM per_customer WHERE orders >= 1
    UNION ALL
    SELECT 'ordered twice', 3, count(*) FROM per_customer WHERE orders >= 2
    UNION ALL
    SELECT 'got a delivery', 4, count(*) FROM per_customer WHERE delivered >= 1
    UNION ALL
    SELECT 'big spender', 5, count(*) FROM per_customer WHERE max_amount > 450
    ORDER BY step_no
    """,
    # running total of daily revenue
    """
    WITH daily AS (
        SELECT order_date, round(sum(amount), 2) AS revenue
        FROM orders
        GROUP BY order_date
    )
    SELECT order_date, revenue,
           round(sum(revenue) OVER (ORDER BY order_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 2)
               AS running_revenue
    FROM daily
    ORDER BY order_date
    """,
    # 7-day moving average of events
    """
    SELECT event_date, count(*) AS events,
           round(avg(count(*)) OVER (ORDER BY event_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2)
               AS events_7d_avg
    FROM events
    GROUP BY event_date
    ORDER BY event_date
    """,
    # orders in the last 7 days with a RANGE frame over dates
    """
    SELECT order_date, daily_orders,
           sum(daily_orders) OVER (ORDER BY order_date
                                   RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW) AS orders_last_7_days
    FROM (SELECT order_date, count(*) AS daily_orders FROM orders GROUP BY order_date) d
    ORDER BY order_date
    """,
    # percentiles of event amounts per platform
    """
    SELECT platform,
           round(quantile_cont(amount, 0.5), 2) AS p50,
           round(quantile_cont(amount, 0.9), 2) AS p90,
           quantile_cont(amount, [0.25, 0.75]) AS quartiles,
           median(amount) AS median_amount
    FROM events
    GROUP BY platform
    ORDER BY platform
    """,
    # share of customers per segment
    """
    SELECT segment, count(*) AS customers,
           round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS pct_of_customers
    FROM customers
    GROUP BY segment
    ORDER BY segment
    """,
    # each country's share of revenue within its platform
    """
    SELECT platform, country, round(sum(amount), 2) AS revenue,
           round(100 * sum(amount) / sum(sum(amount)) OVER (PARTITION BY platform), 2) AS share_pct
    FROM events
    GROUP BY platform, country
    ORDER BY platform, share_pct DESC, country
    """,
    # year-over-year signups, a CTE joined to itself
    """
    WITH monthly AS (
        SELECT year(signup_date) AS yr, month(signup_date) AS mo, count(*) AS signups
        FROM customers
        GROUP BY ALL
    )
    SELECT cur.mo AS month, prev.signups AS signups_2024, cur.signups AS signups_2025,
           round(100.0 * (cur.signups - prev.signups) / prev.signups, 1) AS yoy_pct
    FROM monthly cur
    JOIN monthly prev ON prev.mo = cur.mo AND prev.yr = cur.yr - 1
    ORDER BY cur.mo
    """,
    # year-over-year with LAG over months
    """
    SELECT date_trunc('month', signup_date) AS month,
           count(*) AS signups,
           lag(count(*), 12) OVER (ORDER BY date_trunc('month', signup_date)) AS signups_year_ago
    FROM customers
    GROUP BY 1
    ORDER BY 1
    """,
    # order amount histogram in 50 EUR buckets
    """
    SELECT floor(amount / 50) * 50 AS bucket_start, count(*) AS orders
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # histogram() of platforms per country
    """
    SELECT country, histogram(platform) AS by_platform
    FROM events
    WHERE country IN ('US', 'GB', 'DE')
    GROUP BY country
    ORDER BY country
    """,
    # customer name cleanup
    """
    SELECT customer_id,
           upper(trim(name)) AS clean_name,
           replace(name, 'Customer ', 'C-') AS short_name,
           split_part(name, ' ', 2)::INTEGER AS number_from_name,
           name[1:8] AS prefix,
           length(name) AS name_length
    FROM customers
    WHERE starts_with(name, 'Customer 1') AND customer_id < 200
    ORDER BY customer_id
    """,
    # regular expressions on names
    r"""
    SELECT customer_id,
           regexp_extract(name, '(\d+)$', 1) AS digits,
           regexp_replace(name, '\s+', '_', 'g') AS snake_name
    FROM customers
    WHERE regexp_matches(name, '^Customer 4[0-9]{2}$')
    ORDER BY customer_id
    """,
    # days from signup to first order
    """
    SELECT c.customer_id, c.signup_date, min(o.order_date) AS first_order,
           date_diff('day', c.signup_date, min(o.order_date)) AS days_to_first_order
    FROM customers c
    JOIN orders o USING (customer_id)
    WHERE c.customer_id BETWEEN 100 AND 130
    GROUP BY c.customer_id, c.signup_date
    ORDER BY c.customer_id
    """,
    # calendar attributes of order dates
    """
    SELECT order_date,
           dayname(order_date) AS weekday,
           monthname(order_date) AS month_name,
           isodow(order_date) AS iso_dow,
           last_day(order_date) AS month_end,
           strftime(order_date, '%Y-%m-%d (%a)') AS label,
           order_date + INTERVAL 30 DAY AS due_date
    FROM (SELECT DISTINCT order_date FROM orders) d
    ORDER BY order_date
    """,
    # orders by ISO weekday
    """
    SELECT isodow(order_date) AS dow, dayname(order_date) AS day_name,
           count(*) AS orders, round(avg(amount), 2) AS avg_amount
    FROM orders
    GROUP BY ALL
    ORDER BY dow
    """,
    # events and revenue by hour of day
    """
    SELECT extract(hour FROM ts) AS hour_of_day, count(*) AS events, round(sum(amount), 2) AS revenue
    FROM events
    GROUP BY 1
    ORDER BY 1
    """,
    # longest sessions of a day, durations from epoch seconds
    """
    SELECT session_id, count(*) AS events, min(ts) AS started, max(ts) AS ended,
           round(epoch(max(ts)) - epoch(min(ts)), 0) AS duration_s
    FROM events
    WHERE event_date = '2026-02-01'
    GROUP BY session_id
    HAVING count(*) >= 5
    ORDER BY duration_s DESC, session_id
    LIMIT 20
    """,
    # every platform, even one without events, from a list literal
    """
    SELECT p.platform, count(e.session_id) AS events
    FROM (SELECT unnest(['web', 'ios', 'android', 'tv']) AS platform) p
    LEFT JOIN events e ON e.platform = p.platform AND e.event_date = DATE '2026-01-10'
    GROUP BY p.platform
    ORDER BY events DESC, p.platform
    """,
    # list_contains on a list literal
    """
    SELECT country, count(*) AS events
    FROM events
    WHERE list_contains(['CZ', 'SK', 'PL'], country)
    GROUP BY country
    ORDER BY country
    """,
    # list and struct values
    """
    SELECT customer_id,
           list_value(country, segment) AS attributes,
           {'id': customer_id, 'segment': segment} AS record,
           ({'c': country, 's': segment}).s AS segment_from_struct
    FROM customers
    WHERE customer_id <= 10
    ORDER BY customer_id
    """,
    # order status history per customer as lists
    """
    SELECT customer_id,
           list(status ORDER BY order_date, order_id) AS statuses,
           list_sort(list_distinct(list(status))) AS distinct_statuses
    FROM orders
    WHERE customer_id <= 20
    GROUP BY customer_id
    ORDER BY customer_id
    """,
    # string_split and list indexing
    """
    SELECT customer_id,
           string_split(name, ' ')[2] AS number_part,
           len(string_split(name, ' ')) AS parts
    FROM customers
    WHERE customer_id <= 10
    ORDER BY customer_id
    """,
    # FROM-first syntax
    """
    FROM events
    SELECT platform, count(*) AS events, count(DISTINCT user_id) AS users
    GROUP BY platform
    ORDER BY platform
    """,
    # FROM-first without SELECT
    """
    FROM customers
    WHERE customer_id <= 5
    ORDER BY customer_id
    """,
    # SELECT * EXCLUDE
    """
    SELECT * EXCLUDE (session_id, ts)
    FROM events
    WHERE event_date = DATE '2026-01-03' AND country = 'CZ'
    ORDER BY ALL
    LIMIT 20
    """,
    # SELECT * REPLACE
    """
    SELECT * REPLACE (round(amount) AS amount, upper(status) AS status)
    FROM orders
    WHERE customer_id = 4242
    ORDER BY order_id
    """,
    # gaps between a customer's orders
    """
    WITH ordered AS (
        SELECT customer_id, order_date,
               lag(order_date) OVER (PARTITION BY customer_id ORDER BY order_date, order_id) AS prev_date
        FROM orders
    )
    SELECT customer_id, count(*) AS gaps,
           round(avg(date_diff('day', prev_date, order_date)), 2) AS avg_gap_days,
           max(order_date - prev_date) AS max_gap_days
    FROM ordered
    WHERE prev_date IS NOT NULL
    GROUP BY customer_id
    ORDER BY max_gap_days DESC, customer_id
    LIMIT 25
    """,
    # islands: streaks of consecutive active days per user
    """
    WITH days AS (
        SELECT DISTINCT user_id, event_date FROM events
    ), grouped AS (
        SELECT user_id, event_date,
               event_date - CAST(row_number() OVER (PARTITION BY user_id ORDER BY event_date) AS INTEGER) AS island
        FROM days
    )
    SELECT user_id, min(event_date) AS streak_start, max(event_date) AS streak_end, count(*) AS streak_days
    FROM grouped
    GROUP BY user_id, island
    HAVING count(*) >= 2
    ORDER BY streak_days DESC, user_id, streak_start
    LIMIT 20
    """,
    # bounded recursive calendar of 12 months
    """
    WITH RECURSIVE months(month_start) AS (
        SELECT DATE '2025-01-01'
        UNION ALL
        SELECT CAST(month_start + INTERVAL 1 MONTH AS DATE) FROM months WHERE month_start < DATE '2025-12-01'
    )
    SELECT m.month_start, count(c.customer_id) AS signups
    FROM months m
    LEFT JOIN customers c ON date_trunc('month', c.signup_date) = m.month_start
    GROUP BY m.month_start
    ORDER BY m.month_start
    """,
    # ROLLUP subtotals with grouping()
    """
    SELECT c.segment, c.country, count(*) AS orders, round(sum(o.amount), 2) AS revenue,
           grouping(c.segment, c.country) AS level
    FROM orders o
    JOIN customers c ON o.customer_id = c.customer_id
    WHERE c.country IN ('CZ', 'SK', 'DE')
    GROUP BY ROLLUP (c.segment, c.country)
    ORDER BY level, c.segment NULLS LAST, c.country NULLS LAST
    """,
    # CUBE over platform and country
    """
    SELECT platform, country, count(*) AS n
    FROM events
    WHERE country IN ('US', 'CA')
    GROUP BY CUBE (platform, country)
    ORDER BY ALL
    """,
    # GROUPING SETS with a grand total
    """
    SELECT status, date_trunc('month', order_date) AS month, count(*) AS n
    FROM orders
    GROUP BY GROUPING SETS ((status), (date_trunc('month', order_date)), ())
    ORDER BY ALL
    """,
    # serial returners with HAVING
    """
    SELECT customer_id, count(*) AS returns
    FROM orders
    WHERE status = 'returned'
    GROUP BY customer_id
    HAVING count(*) >= 5
    ORDER BY returns DESC, customer_id
    """,
    # weekly return rate with FILTER
    """
    SELECT date_trunc('week', order_date) AS week,
           count(*) AS orders,
           count(*) FILTER (WHERE status = 'returned') AS returned,
           round(100.0 * count(*) FILTER (WHERE status = 'returned') / count(*), 2) AS return_rate,
           round(sum(amount) FILTER (WHERE status = 'delivered'), 2) AS delivered_revenue
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # named WINDOW clause, reused with a frame
    """
    SELECT country, event_date, daily,
           sum(daily) OVER w AS cumulative,
           round(avg(daily) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 2) AS avg_3d
    FROM (
        SELECT country, event_date, count(*) AS daily
        FROM events
        WHERE country IN ('FR', 'IT')
        GROUP BY country, event_date
    ) d
    WINDOW w AS (PARTITION BY country ORDER BY event_date)
    ORDER BY country, event_date
    """,
    # UNION ALL of two sources
    """
    SELECT 'events' AS source, country, count(*) AS n FROM events GROUP BY country
    UNION ALL
    SELECT 'customers', country, count(*) FROM customers GROUP BY country
    ORDER BY country, source
    """,
    # INTERSECT: customers who ordered in the first and the last week
    """
    SELECT customer_id FROM orders WHERE order_date < DATE '2026-01-08'
    INTERSECT
    SELECT customer_id FROM orders WHERE order_date >= DATE '2026-02-23'
    ORDER BY customer_id
    LIMIT 50
    """,
    # EXCEPT: enterprise customers who never produced an event
    """
    SELECT count(*) AS enterprise_without_events
    FROM (
        SELECT customer_id FROM customers WHERE segment = 'enterprise'
        EXCEPT
        SELECT user_id FROM events
    ) x
    """,
    # UNION (distinct) of country codes
    """
    SELECT country FROM customers
    UNION
    SELECT country FROM events
    ORDER BY country
    """,
    # LATERAL: three biggest orders per segment
    """
    SELECT s.segment, t.order_id, t.amount
    FROM (SELECT DISTINCT segment FROM customers) s,
         LATERAL (
             SELECT o.order_id, o.amount
             FROM orders o
             JOIN customers c2 ON c2.customer_id = o.customer_id
             WHERE c2.segment = s.segment
             ORDER BY o.amount DESC, o.order_id
             LIMIT 3
         ) t
    ORDER BY s.segment, t.amount DESC, t.order_id
    """,
    # self-join: customers of one country signing up the same day
    """
    SELECT a.customer_id, b.customer_id AS twin_id, a.country, a.signup_date
    FROM customers a
    JOIN customers b
      ON a.country = b.country AND a.signup_date = b.signup_date AND a.customer_id < b.customer_id
    WHERE a.country = 'CZ' AND a.signup_date BETWEEN DATE '2025-03-01' AND DATE '2025-03-07'
    ORDER BY a.signup_date, a.customer_id, twin_id
    """,
    # FULL OUTER JOIN of daily orders and daily events
    """
    SELECT coalesce(o.d, e.d) AS day, o.orders, e.events
    FROM (SELECT order_date AS d, count(*) AS orders FROM orders GROUP BY 1) o
    FULL OUTER JOIN (SELECT event_date AS d, count(*) AS events FROM events GROUP BY 1) e ON o.d = e.d
    ORDER BY day
    """,
    # CROSS JOIN with a small CTE of thresholds
    """
    WITH thresholds(t) AS (VALUES (100), (250), (400))
    SELECT t AS threshold,
           count(*) FILTER (WHERE amount >= t) AS orders_above,
           round(100.0 * count(*) FILTER (WHERE amount >= t) / count(*), 2) AS pct_above
    FROM orders
    CROSS JOIN thresholds
    GROUP BY t
    ORDER BY t
    """,
    # customers without orders (LEFT JOIN anti-join)
    """
    SELECT c.segment, count(*) AS customers_without_orders
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.customer_id
    WHERE o.order_id IS NULL
    GROUP BY c.segment
    ORDER BY c.segment
    """,
    # NOT EXISTS
    """
    SELECT count(*) AS never_returned
    FROM customers c
    WHERE NOT EXISTS (
        SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.status = 'returned'
    )
    """,
    # EXISTS
    """
    SELECT c.country, count(*) AS big_event_customers
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM events e WHERE e.user_id = c.customer_id AND e.amount > 900)
    GROUP BY c.country
    ORDER BY c.country
    """,
    # IN (subquery)
    """
    SELECT status, count(*) AS orders
    FROM orders
    WHERE customer_id IN (SELECT customer_id FROM customers WHERE segment = 'enterprise' AND country = 'DE')
    GROUP BY status
    ORDER BY status
    """,
    # correlated subqueries in SELECT
    """
    SELECT c.customer_id, c.name,
           (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) AS order_count,
           (SELECT max(o.order_date) FROM orders o WHERE o.customer_id = c.customer_id) AS last_order
    FROM customers c
    WHERE c.customer_id <= 25
    ORDER BY c.customer_id
    """,
    # correlated subquery in WHERE: orders above the customer's own average
    """
    SELECT o.customer_id, o.order_id, o.amount
    FROM orders o
    WHERE o.customer_id BETWEEN 1 AND 40
      AND o.amount > (SELECT avg(o2.amount) FROM orders o2 WHERE o2.customer_id = o.customer_id)
    ORDER BY o.customer_id, o.order_id
    """,
    # scalar subquery: orders above the 99th percentile
    """
    SELECT order_id, customer_id, amount
    FROM orders
    WHERE amount >= (SELECT quantile_disc(amount, 0.99) FROM orders)
      AND order_date = DATE '2026-02-14'
    ORDER BY amount DESC, order_id
    """,
    # CTE whose name differs in case from its reference
    """
    WITH Monthly AS (
        SELECT date_trunc('month', order_date) AS month, round(sum(amount), 2) AS revenue
        FROM orders
        GROUP BY 1
    )
    SELECT * FROM monthly ORDER BY month
    """,
    # quoted CTE name referenced with the same quoting
    """
    WITH "Daily Revenue" AS (
        SELECT order_date, round(sum(amount), 2) AS revenue FROM orders GROUP BY order_date
    )
    SELECT order_date, revenue
    FROM "Daily Revenue"
    WHERE revenue > 70000
    ORDER BY revenue DESC, order_date
    """,
    # a CTE nested inside a subquery
    """
    SELECT x.platform, x.users
    FROM (
        WITH per_platform AS (
            SELECT platform, count(DISTINCT user_id) AS users FROM events GROUP BY platform
        )
        SELECT * FROM per_platform
    ) x
    ORDER BY x.users DESC, x.platform
    """,
    # comments of both kinds
    """
    -- revenue per status, excluding returns
    SELECT status, /* the currency is always EUR in the lake */ round(sum(amount), 2) AS revenue
    FROM orders
    WHERE status <> 'returned' -- returns are refunded
    GROUP BY status
    ORDER BY status
    """,
    # pagination with LIMIT / OFFSET
    """
    SELECT customer_id, name, signup_date
    FROM customers
    ORDER BY signup_date DESC, customer_id
    LIMIT 20 OFFSET 40
    """,
    # OFFSET ... FETCH FIRST
    """
    SELECT order_id, amount
    FROM orders
    WHERE order_date = DATE '2026-01-20'
    ORDER BY amount DESC, order_id
    OFFSET 5 ROWS FETCH FIRST 10 ROWS ONLY
    """,
    # table alias with a column list
    """
    SELECT cid, count(*) AS orders, round(sum(amt), 2) AS spend
    FROM orders AS o(oid, cid, odate, st, amt, cur)
    WHERE cid <= 10
    GROUP BY cid
    ORDER BY cid
    """,
    # a mapping table from VALUES with a column list
    """
    SELECT m.label, count(*) AS orders
    FROM orders o
    JOIN (VALUES ('placed', 'open'), ('paid', 'open'), ('shipped', 'in transit'),
                 ('delivered', 'done'), ('returned', 'done')) AS m(status, label)
      ON m.status = o.status
    GROUP BY m.label
    ORDER BY m.label
    """,
    # casts with :: and CAST / TRY_CAST
    """
    SELECT order_date::VARCHAR AS day_text,
           CAST(sum(amount::DECIMAL(12, 2)) AS DECIMAL(14, 2)) AS exact_revenue,
           sum(amount::INTEGER) AS whole_euros,
           TRY_CAST('n/a' AS INTEGER) AS missing
    FROM orders
    WHERE order_date BETWEEN DATE '2026-01-01' AND DATE '2026-01-07'
    GROUP BY order_date
    ORDER BY order_date
    """,
    # LIKE / ILIKE / NOT LIKE
    """
    SELECT count(*) FILTER (WHERE name LIKE 'Customer 1%') AS starts_1,
           count(*) FILTER (WHERE name ILIKE 'customer 2%') AS starts_2,
           count(*) FILTER (WHERE name NOT LIKE '%0') AS not_ending_0
    FROM customers
    """,
    # ILIKE in WHERE
    """
    SELECT status, count(*) AS orders
    FROM orders
    WHERE status ILIKE 'P%' OR status ILIKE '%ED'
    GROUP BY status
    ORDER BY status
    """,
    # order size classes with CASE
    """
    SELECT CASE WHEN amount < 50 THEN 'small' WHEN amount < 250 THEN 'medium' ELSE 'large' END AS size_class,
           count(*) AS orders,
           round(sum(amount), 2) AS revenue
    FROM orders
    GROUP BY 1
    ORDER BY min(amount)
    """,
    # orders per customer with NULLIF and COALESCE
    """
    SELECT c.country,
           count(o.order_id) AS orders,
           count(DISTINCT c.customer_id) AS customers,
           round(count(o.order_id) / NULLIF(count(DISTINCT c.customer_id), 0), 2) AS orders_per_customer,
           coalesce(round(max(o.amount), 2), 0) AS biggest_order
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.status = 'paid'
    GROUP BY c.country
    ORDER BY c.country
    """,
    # DISTINCT values
    """
    SELECT DISTINCT status FROM orders ORDER BY status
    """,
    # exact vs approximate distinct users
    """
    SELECT event_date, count(DISTINCT user_id) AS users, approx_count_distinct(user_id) AS users_approx
    FROM events
    WHERE event_date < DATE '2026-01-15'
    GROUP BY event_date
    ORDER BY event_date
    """,
    # arg_max / arg_min: last platform and first amount per country
    """
    SELECT country,
           arg_max(platform, ts) AS last_platform,
           arg_min(amount, ts) AS first_amount,
           max(ts) AS last_seen
    FROM events
    GROUP BY country
    ORDER BY country
    """,
    # median order by status
    """
    SELECT status, median(amount) AS median_amount, round(avg(amount), 2) AS mean_amount
    FROM orders
    GROUP BY status
    ORDER BY status
    """,
    # string_agg with DISTINCT and ORDER BY
    """
    SELECT segment, string_agg(DISTINCT country, ', ' ORDER BY country) AS countries
    FROM customers
    GROUP BY segment
    ORDER BY segment
    """,
    # list of distinct platforms, sorted
    """
    SELECT country, list_sort(list(DISTINCT platform)) AS platforms
    FROM events
    GROUP BY country
    ORDER BY country
    """,
    # interval arithmetic on timestamps
    """
    SELECT session_id, ts,
           ts + INTERVAL '2 hours' AS follow_up_at,
           ts - INTERVAL 1 DAY AS day_before,
           date_trunc('hour', ts) AS hour_bucket
    FROM events
    WHERE event_date = DATE '2026-02-10' AND country = 'NO' AND platform = 'ios'
    ORDER BY ts, session_id
    """,
    # EXTRACT of several parts
    """
    SELECT extract(year FROM order_date) AS yr,
           extract(quarter FROM order_date) AS qtr,
           extract(week FROM order_date) AS wk,
           count(*) AS orders
    FROM orders
    GROUP BY ALL
    ORDER BY ALL
    """,
    # hourly traffic per platform with date_trunc
    """
    SELECT date_trunc('hour', ts) AS hour, platform, count(*) AS events
    FROM events
    WHERE event_date = DATE '2026-01-05'
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # minutes between first and last event per country and day
    """
    SELECT event_date, country, date_diff('minute', min(ts), max(ts)) AS active_minutes
    FROM events
    WHERE event_date BETWEEN DATE '2026-01-01' AND DATE '2026-01-03'
    GROUP BY event_date, country
    ORDER BY event_date, country
    """,
    # spend quartiles with NTILE
    """
    WITH spend AS (
        SELECT customer_id, round(sum(amount), 2) AS s FROM orders GROUP BY customer_id
    )
    SELECT quartile, count(*) AS customers, min(s) AS min_spend, max(s) AS max_spend
    FROM (SELECT customer_id, s, ntile(4) OVER (ORDER BY s, customer_id) AS quartile FROM spend) q
    GROUP BY quartile
    ORDER BY quartile
    """,
    # country ranking with rank / dense_rank / percent_rank / cume_dist
    """
    SELECT country, revenue,
           rank() OVER (ORDER BY revenue DESC) AS rnk,
           dense_rank() OVER (ORDER BY revenue DESC) AS dense_rnk,
           round(percent_rank() OVER (ORDER BY revenue), 3) AS pct_rank,
           round(cume_dist() OVER (ORDER BY revenue), 3) AS cume
    FROM (SELECT country, round(sum(amount), 2) AS revenue FROM events GROUP BY country) r
    ORDER BY rnk, country
    """,
    # first / last / next values over days
    """
    SELECT event_date, n,
           first_value(n) OVER (ORDER BY event_date) AS first_day_events,
           last_value(n) OVER (ORDER BY event_date ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
               AS last_day_events,
           lead(n) OVER (ORDER BY event_date) AS next_day_events,
           nth_value(n, 2) OVER (ORDER BY event_date ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
               AS second_day_events
    FROM (SELECT event_date, count(*) AS n FROM events GROUP BY event_date) d
    ORDER BY event_date
    """,
    # top 3 countries per platform with QUALIFY and rank
    """
    SELECT platform, country, round(sum(amount), 2) AS revenue
    FROM events
    GROUP BY platform, country
    QUALIFY rank() OVER (PARTITION BY platform ORDER BY round(sum(amount), 2) DESC, country) <= 3
    ORDER BY platform, revenue DESC, country
    """,
    # day-over-day change with LAG
    """
    WITH daily AS (
        SELECT order_date, round(sum(amount), 2) AS revenue FROM orders GROUP BY order_date
    )
    SELECT order_date, revenue,
           round(revenue - lag(revenue) OVER (ORDER BY order_date), 2) AS change,
           round(100 * (revenue / lag(revenue) OVER (ORDER BY order_date) - 1), 2) AS change_pct
    FROM daily
    ORDER BY order_date
    """,
    # unusual days per country by z-score
    """
    WITH daily AS (
        SELECT country, event_date, count(*) AS n FROM events GROUP BY country, event_date
    ), stats AS (
        SELECT country, avg(n) AS mean_n, stddev_samp(n) AS sd_n FROM daily GROUP BY country
    )
    SELECT d.country, d.event_date, d.n, round((d.n - s.mean_n) / s.sd_n, 2) AS z_score
    FROM daily d
    JOIN stats s USING (country)
    WHERE abs((d.n - s.mean_n) / s.sd_n) > 2
    ORDER BY z_score DESC, d.country, d.event_date
    """,
    # manual pivot of platforms with SUM(CASE ...)
    """
    SELECT country,
           sum(CASE WHEN platform = 'web' THEN 1 ELSE 0 END) AS web,
           sum(CASE WHEN platform = 'ios' THEN 1 ELSE 0 END) AS ios,
           sum(CASE WHEN platform = 'android' THEN 1 ELSE 0 END) AS android
    FROM events
    GROUP BY country
    ORDER BY country
    """,
    # GREATEST / LEAST
    """
    SELECT customer_id, signup_date,
           greatest(signup_date, DATE '2025-06-01') AS counted_from,
           least(customer_id, 100) AS capped_id
    FROM customers
    WHERE customer_id BETWEEN 95 AND 105
    ORDER BY customer_id
    """,
    # new vs returning customers per week
    """
    WITH firsts AS (
        SELECT customer_id, min(order_date) AS first_date FROM orders GROUP BY customer_id
    )
    SELECT date_trunc('week', o.order_date) AS week,
           count(DISTINCT o.customer_id) FILTER (WHERE o.order_date = f.first_date) AS new_customers,
           count(DISTINCT o.customer_id) FILTER (WHERE o.order_date > f.first_date) AS returning_customers
    FROM orders o
    JOIN firsts f ON f.customer_id = o.customer_id
    GROUP BY 1
    ORDER BY 1
    """,
    # daily active users and a weekly rolling average
    """
    WITH dau AS (
        SELECT event_date, count(DISTINCT user_id) AS users FROM events GROUP BY event_date
    )
    SELECT event_date, users,
           round(avg(users) OVER (ORDER BY event_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 1) AS users_7d
    FROM dau
    ORDER BY event_date
    """,
    # users seen on more than one platform
    """
    SELECT user_id, count(DISTINCT platform) AS platforms, count(*) AS events
    FROM events
    GROUP BY user_id
    HAVING count(DISTINCT platform) >= 2 AND count(*) >= 3
    ORDER BY events DESC, user_id
    LIMIT 30
    """,
    # average order value by signup year and segment
    """
    SELECT year(c.signup_date) AS signup_year, c.segment,
           round(avg(o.amount), 2) AS avg_order_value, count(*) AS orders
    FROM customers c
    JOIN orders o ON o.customer_id = c.customer_id
    GROUP BY ALL
    ORDER BY signup_year, c.segment
    """,
    # tenure buckets in months
    """
    SELECT date_diff('month', signup_date, DATE '2026-03-01') // 6 * 6 AS tenure_months_from,
           count(*) AS customers
    FROM customers
    GROUP BY 1
    ORDER BY 1
    """,
    # weekend vs weekday
    """
    SELECT CASE WHEN isodow(order_date) IN (6, 7) THEN 'weekend' ELSE 'weekday' END AS day_type,
           count(*) AS orders,
           round(count(*) / count(DISTINCT order_date), 1) AS orders_per_day
    FROM orders
    GROUP BY day_type
    ORDER BY day_type
    """,
    # Bernoulli sample of events (TABLESAMPLE ... REPEATABLE)
    """
    SELECT platform, count(*) AS sampled_events, round(avg(amount), 2) AS avg_amount
    FROM events TABLESAMPLE BERNOULLI (10%) REPEATABLE (42)
    GROUP BY platform
    ORDER BY platform
    """,
    # USING SAMPLE with a seed (the clause follows GROUP BY; sampling happens before aggregation)
    """
    SELECT status, count(*) AS sampled_orders
    FROM orders
    WHERE amount > 10
    GROUP BY status
    USING SAMPLE 10% (bernoulli, 42)
    ORDER BY status
    """,
    # USING SAMPLE in a subquery
    """
    SELECT segment, count(*) AS sampled_customers
    FROM (SELECT * FROM customers USING SAMPLE 2% (bernoulli, 11)) s
    GROUP BY segment
    ORDER BY segment
    """,
    # system sample with a seed
    """
    SELECT count(*) AS sampled_orders, round(sum(amount), 2) AS sampled_revenue
    FROM orders TABLESAMPLE SYSTEM (20%) REPEATABLE (7)
    """,
    # sampled customers joined to their orders
    """
    WITH sample_customers AS (
        SELECT customer_id, segment FROM customers TABLESAMPLE BERNOULLI (5%) REPEATABLE (3)
    )
    SELECT s.segment, count(DISTINCT s.customer_id) AS customers, count(o.order_id) AS orders
    FROM sample_customers s
    LEFT JOIN orders o ON o.customer_id = s.customer_id
    GROUP BY s.segment
    ORDER BY s.segment
    """,
    # mixed-case identifiers across a join
    """
    SELECT C.Segment, COUNT(O.Order_ID) AS Orders, ROUND(SUM(O.Amount), 2) AS Revenue
    FROM Customers C
    JOIN Orders O ON O.Customer_Id = C.Customer_Id
    WHERE C.Country = 'FR'
    GROUP BY C.Segment
    ORDER BY C.Segment
    """,
    # three levels of nested subqueries
    """
    SELECT country, avg_daily
    FROM (
        SELECT country, round(avg(n), 2) AS avg_daily
        FROM (
            SELECT country, event_date, count(*) AS n
            FROM (SELECT country, event_date FROM events WHERE platform = 'web') w
            GROUP BY country, event_date
        ) d
        GROUP BY country
    ) a
    WHERE avg_daily > 8
    ORDER BY avg_daily DESC, country
    """,
    # month-over-month from a CTE used twice
    """
    WITH m AS (
        SELECT date_trunc('month', order_date) AS month, count(*) AS orders FROM orders GROUP BY 1
    )
    SELECT cur.month, cur.orders, prev.orders AS prev_orders, cur.orders - prev.orders AS delta
    FROM m cur
    LEFT JOIN m prev ON prev.month = cur.month - INTERVAL 1 MONTH
    ORDER BY cur.month
    """,
    # lambdas on lists
    """
    SELECT customer_id,
           list_transform(list(amount ORDER BY order_id), x -> round(x * 1.21, 2)) AS gross_amounts,
           list_filter(list(amount ORDER BY order_id), x -> x > 250) AS big_amounts
    FROM orders
    WHERE customer_id <= 5
    GROUP BY customer_id
    ORDER BY customer_id
    """,
    # case-insensitive regexp_matches
    """
    SELECT count(*) AS matching
    FROM customers
    WHERE regexp_matches(name, '^customer 77', 'i')
    """,
    # invoice numbers with concatenation and lpad
    """
    SELECT 'INV-' || lpad(CAST(order_id AS VARCHAR), 8, '0') AS invoice_no,
           concat(currency, ' ', amount) AS amount_text
    FROM orders
    WHERE customer_id = 777
    ORDER BY order_id
    """,
    # parsing date strings and building dates
    """
    SELECT count(*) AS orders_since_mid_jan
    FROM orders
    WHERE order_date >= CAST(strptime('2026-01-15', '%Y-%m-%d') AS DATE)
      AND order_date < make_date(2026, 2, 1)
    """,
    # ORDER BY ALL DESC
    """
    SELECT segment, country, count(*) AS customers
    FROM customers
    GROUP BY ALL
    ORDER BY ALL DESC
    """,
    # unnest of a split string
    """
    SELECT word, count(*) AS n
    FROM (SELECT unnest(string_split(name, ' ')) AS word FROM customers WHERE customer_id <= 30) w
    GROUP BY word
    ORDER BY n DESC, word
    """,
    # cumulative share per segment with a RANGE frame
    """
    SELECT segment, signup_month, signups,
           sum(signups) OVER (PARTITION BY segment ORDER BY signup_month
                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative_signups
    FROM (
        SELECT segment, date_trunc('month', signup_date) AS signup_month, count(*) AS signups
        FROM customers
        GROUP BY 1, 2
    ) s
    ORDER BY segment, signup_month
    """,
    # median per status with a rollup total
    """
    SELECT coalesce(status, 'ALL') AS status, median(amount) AS median_amount, count(*) AS orders
    FROM orders
    GROUP BY ROLLUP (status)
    ORDER BY status
    """,
    # customers whose every order was delivered (ALL / bool_and)
    """
    SELECT count(*) AS always_delivered
    FROM (
        SELECT customer_id
        FROM orders
        GROUP BY customer_id
        HAVING bool_and(status = 'delivered')
    ) t
    """,
    # repeat purchase rate per country
    """
    WITH per_customer AS (
        SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id
    )
    SELECT c.country,
           count(*) AS buyers,
           round(100.0 * count(*) FILTER (WHERE p.n > 1) / count(*), 2) AS repeat_rate_pct
    FROM per_customer p
    JOIN customers c ON c.customer_id = p.customer_id
    GROUP BY c.country
    ORDER BY repeat_rate_pct DESC, c.country
    """,
    # distribution of orders per customer
    """
    SELECT orders_per_customer, count(*) AS customers
    FROM (SELECT customer_id, count(*) AS orders_per_customer FROM orders GROUP BY customer_id) t
    GROUP BY orders_per_customer
    ORDER BY orders_per_customer
    """,
    # the biggest event per user on one day, ties broken by session
    """
    SELECT user_id, amount, session_id
    FROM events
    WHERE event_date = DATE '2026-02-20'
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY amount DESC, session_id, ts) = 1
    ORDER BY amount DESC, user_id
    LIMIT 15
    """,
    # SIMILAR TO and regexp on session ids
    """
    SELECT count(*) FILTER (WHERE session_id SIMILAR TO '[0-9]+[a-f]%') AS digit_then_letter,
           count(*) FILTER (WHERE regexp_matches(session_id, '^[a-f]')) AS starts_with_letter,
           count(*) AS total
    FROM events
    WHERE event_date = DATE '2026-01-31'
    """,
    # string slicing and substrings of session ids
    """
    SELECT session_id[1:2] AS shard, count(DISTINCT session_id) AS sessions
    FROM events
    WHERE event_date BETWEEN DATE '2026-01-01' AND DATE '2026-01-07'
    GROUP BY shard
    ORDER BY sessions DESC, shard
    LIMIT 10
    """,
    # quarter-hour buckets with time_bucket
    """
    SELECT time_bucket(INTERVAL 15 MINUTE, ts) AS slot, count(*) AS events
    FROM events
    WHERE event_date = DATE '2026-01-12' AND extract(hour FROM ts) BETWEEN 8 AND 10
    GROUP BY slot
    ORDER BY slot
    """,
    # first-touch platform per buyer joined to orders
    """
    WITH first_touch AS (
        SELECT user_id, arg_min(platform, ts) AS first_platform
        FROM events
        GROUP BY user_id
    )
    SELECT f.first_platform, count(DISTINCT o.customer_id) AS buyers, round(sum(o.amount), 2) AS revenue
    FROM first_touch f
    JOIN orders o ON o.customer_id = f.user_id
    GROUP BY f.first_platform
    ORDER BY f.first_platform
    """,
    # inner join with an inline IN list and BETWEEN
    """
    SELECT c.country, o.order_date, count(*) AS orders
    FROM orders o
    INNER JOIN customers c ON c.customer_id = o.customer_id
    WHERE c.country IN ('AT', 'CH') AND o.order_date BETWEEN DATE '2026-02-01' AND DATE '2026-02-03'
    GROUP BY c.country, o.order_date
    ORDER BY c.country, o.order_date
    """,
    # signups per weekday name with strftime
    """
    SELECT strftime(signup_date, '%A') AS weekday, count(*) AS signups
    FROM customers
    GROUP BY weekday
    ORDER BY signups DESC, weekday
    """,
    # a customer's orders with their rank among the customer's orders
    """
    SELECT order_id, order_date, amount,
           row_number() OVER (ORDER BY order_date, order_id) AS nth_order,
           round(sum(amount) OVER (ORDER BY order_date, order_id), 2) AS lifetime_value
    FROM orders
    WHERE customer_id = 1234
    ORDER BY nth_order
    """,
    # NOT IN with a subquery and DISTINCT count
    """
    SELECT count(DISTINCT customer_id) AS buyers_outside_big_countries
    FROM orders
    WHERE customer_id NOT IN (SELECT customer_id FROM customers WHERE country IN ('US', 'GB', 'DE', 'FR'))
    """,
    # events per session distribution
    """
    SELECT events_in_session, count(*) AS sessions
    FROM (
        SELECT session_id, count(*) AS events_in_session
        FROM events
        GROUP BY session_id
    ) s
    GROUP BY events_in_session
    ORDER BY events_in_session
    """,
    # conditional aggregation with count_if and avg FILTER
    """
    SELECT platform,
           count_if(amount > 500) AS big_events,
           round(avg(amount) FILTER (WHERE amount > 500), 2) AS avg_big_amount
    FROM events
    GROUP BY platform
    ORDER BY platform
    """,
    # epoch seconds of the first event per day
    """
    SELECT event_date, min(ts) AS first_event, epoch(min(ts)) AS first_event_epoch
    FROM events
    WHERE event_date <= DATE '2026-01-10'
    GROUP BY event_date
    ORDER BY event_date
    """,
    # last day of month revenue vs other days
    """
    SELECT order_date = last_day(order_date) AS is_month_end,
           count(*) AS orders,
           round(avg(amount), 2) AS avg_amount
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # customers per country whose name ends with a given digit (right / left)
    """
    SELECT country, right(name, 1) AS last_digit, count(*) AS customers
    FROM customers
    WHERE left(name, 8) = 'Customer' AND country = 'PT'
    GROUP BY country, last_digit
    ORDER BY last_digit
    """,
    # platform mix per country, lists of structs
    """
    SELECT country,
           list({'platform': platform, 'events': n} ORDER BY platform) AS mix
    FROM (SELECT country, platform, count(*) AS n FROM events GROUP BY country, platform) t
    GROUP BY country
    ORDER BY country
    LIMIT 5
    """,
    # RIGHT JOIN: order counts for every customer of one country
    """
    SELECT c.customer_id, count(o.order_id) AS orders
    FROM orders o
    RIGHT JOIN customers c ON c.customer_id = o.customer_id
    WHERE c.country = 'IE' AND c.customer_id < 1000
    GROUP BY c.customer_id
    ORDER BY c.customer_id
    """,
    # signup month of buyers of the last week (date arithmetic with intervals)
    """
    SELECT date_trunc('month', c.signup_date) AS signup_month, count(DISTINCT c.customer_id) AS recent_buyers
    FROM customers c
    WHERE c.customer_id IN (
        SELECT customer_id FROM orders WHERE order_date > DATE '2026-03-01' - INTERVAL 7 DAY
    )
    GROUP BY 1
    ORDER BY 1
    """,
]

POSTGRES_ANALYST: list[str] = [
    # revenue by month and currency
    """
    SELECT date_trunc('month', order_date)::date AS month,
           sum(amount) FILTER (WHERE currency = 'EUR') AS revenue_eur,
           sum(amount) FILTER (WHERE currency = 'USD') AS revenue_usd,
           count(*) AS orders
    FROM orders
    WHERE status <> 'returned'
    GROUP BY 1
    ORDER BY 1
    """,
    # revenue by customer country
    """
    SELECT c.country, sum(o.amount) AS revenue, count(DISTINCT o.customer_id) AS buyers
    FROM orders AS o
    JOIN customers AS c ON c.customer_id = o.customer_id
    GROUP BY c.country
    ORDER BY revenue DESC, c.country
    """,
    # mixed-case unquoted identifiers
    """
    SELECT Country, SUM(Amount) AS Revenue, COUNT(*) AS NumOrders
    FROM Orders
    JOIN Customers USING (Customer_ID)
    GROUP BY Country
    ORDER BY Country
    """,
    # latest order per customer with DISTINCT ON
    """
    SELECT DISTINCT ON (customer_id) customer_id, order_id, order_date, amount
    FROM orders
    WHERE customer_id <= 50
    ORDER BY customer_id, order_date DESC, order_id DESC
    """,
    # median and percentiles per status
    """
    SELECT status,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY amount) AS p90_amount,
           count(*) AS orders
    FROM orders
    GROUP BY status
    ORDER BY status
    """,
    # revenue by sales channel from jsonb ->>
    """
    SELECT payload->>'channel' AS channel, count(*) AS orders, sum(amount) AS revenue
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # jsonb containment with @>
    """
    SELECT status, count(*) AS web_orders
    FROM orders
    WHERE payload @> '{"channel": "web"}'
    GROUP BY status
    ORDER BY status
    """,
    # jsonb -> and a cast of a json number
    """
    SELECT (payload->'items')::int AS items, count(*) AS orders, round(avg(amount), 2) AS avg_amount
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # tag membership with ANY(array)
    """
    SELECT currency, count(*) AS tagged_orders
    FROM orders
    WHERE 't1' = ANY(tags)
    GROUP BY currency
    ORDER BY currency
    """,
    # array length and array element access
    """
    SELECT array_length(tags, 1) AS n_tags, tags[1] AS first_tag, count(*) AS orders
    FROM orders
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # unnest(tags) in the select list
    """
    SELECT tag, count(*) AS orders
    FROM (SELECT unnest(tags) AS tag FROM orders) t
    GROUP BY tag
    ORDER BY tag
    """,
    # unnest(tags) as a LATERAL join
    """
    SELECT t.tag, o.status, count(*) AS orders
    FROM orders o
    CROSS JOIN LATERAL unnest(o.tags) AS t(tag)
    WHERE o.order_date >= DATE '2026-01-01'
    GROUP BY t.tag, o.status
    ORDER BY t.tag, o.status
    """,
    # string cleanup: btrim, initcap, split_part, octet_length
    """
    SELECT customer_id,
           btrim('  ' || name || '  ') AS trimmed,
           initcap(lower(name)) AS proper_name,
           split_part(name, ' ', 2)::int AS number_from_name,
           octet_length(name) AS bytes
    FROM customers
    WHERE customer_id <= 12
    ORDER BY customer_id
    """,
    # regexp_match to extract the number in a product name
    r"""
    SELECT product_id, name, (regexp_match(name, '(\d+)$'))[1]::int AS product_no
    FROM products
    WHERE name ~ '^Product [1-3]\d$'
    ORDER BY product_id
    """,
    # age, justify_days and isfinite
    """
    SELECT c.customer_id, c.signup_date,
           age(min(o.order_date), c.signup_date) AS time_to_first_order,
           justify_days((min(o.order_date) - c.signup_date) * interval '1 day') AS days_justified,
           isfinite(c.signup_date) AS finite
    FROM customers c
    JOIN orders o ON o.customer_id = c.customer_id
    WHERE c.customer_id <= 15
    GROUP BY c.customer_id, c.signup_date
    ORDER BY c.customer_id
    """,
    # amount histogram with width_bucket
    """
    SELECT width_bucket(amount, 0, 1000, 10) AS bucket,
           (width_bucket(amount, 0, 1000, 10) - 1) * 100 AS bucket_from,
           count(*) AS orders
    FROM orders
    GROUP BY 1, 2
    ORDER BY 1
    """,
    # weekly buckets with date_bin
    """
    SELECT date_bin('7 days', created_at AT TIME ZONE 'UTC', TIMESTAMP '2025-01-06') AS week_start,
           count(*) AS orders
    FROM orders
    WHERE order_date < DATE '2025-04-01'
    GROUP BY 1
    ORDER BY 1
    """,
    # to_char formatting of months and amounts
    """
    SELECT to_char(order_date, 'YYYY-MM') AS month,
           to_char(sum(amount), 'FM999999990.00') AS revenue_text,
           count(*) AS orders
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # weekday profile with date_part and extract
    """
    SELECT date_part('dow', order_date) AS dow,
           extract(isodow FROM order_date) AS iso_dow,
           to_char(order_date, 'Dy') AS day_name,
           count(*) AS orders
    FROM orders
    GROUP BY 1, 2, 3
    ORDER BY 2
    """,
    # customer age at order time
    """
    SELECT o.order_id, c.signup_date, o.order_date,
           age(o.order_date, c.signup_date) AS customer_age,
           o.order_date - c.signup_date AS days_since_signup
    FROM orders o
    JOIN customers c ON c.customer_id = o.customer_id
    WHERE o.order_id <= 20
    ORDER BY o.order_id
    """,
    # ordered string_agg of countries per segment
    """
    SELECT segment, string_agg(DISTINCT country, ', ' ORDER BY country) AS countries, count(*) AS customers
    FROM customers
    GROUP BY segment
    ORDER BY segment
    """,
    # FETCH FIRST n ROWS ONLY
    """
    SELECT customer_id, sum(amount) AS spend
    FROM orders
    GROUP BY customer_id
    ORDER BY spend DESC, customer_id
    FETCH FIRST 10 ROWS ONLY
    """,
    # OFFSET ... ROWS FETCH NEXT
    """
    SELECT product_id, name, price
    FROM products
    ORDER BY price DESC, product_id
    OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY
    """,
    # orders that fall due one month later (interval '1 month')
    """
    SELECT order_id, order_date, (order_date + interval '1 month')::date AS due_date,
           order_date + 30 AS due_in_30_days
    FROM orders
    WHERE customer_id = 42
    ORDER BY order_id
    """,
    # seconds between consecutive orders with extract(epoch from ...)
    """
    SELECT order_id, created_at,
           extract(epoch FROM created_at - lag(created_at) OVER (ORDER BY created_at, order_id)) AS seconds_since_prev
    FROM orders
    WHERE customer_id = 7
    ORDER BY created_at, order_id
    """,
    # return rate per month with FILTER
    """
    SELECT date_trunc('month', order_date)::date AS month,
           count(*) FILTER (WHERE status = 'returned') AS returned,
           count(*) AS orders,
           round(100.0 * count(*) FILTER (WHERE status = 'returned') / count(*), 2) AS return_rate_pct
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # GREATEST / LEAST / COALESCE
    """
    SELECT order_id, amount,
           greatest(amount - 100, 0) AS above_100,
           least(amount, 500) AS capped,
           coalesce(payload->>'coupon', 'none') AS coupon
    FROM orders
    WHERE order_id BETWEEN 100 AND 120
    ORDER BY order_id
    """,
    # round(x::numeric, 2) of averages
    """
    SELECT p.category,
           round(avg(oi.quantity)::numeric, 2) AS avg_quantity,
           round(avg(oi.unit_price * oi.quantity)::numeric, 2) AS avg_line_value
    FROM order_items oi
    JOIN products p ON p.product_id = oi.product_id
    GROUP BY p.category
    ORDER BY p.category
    """,
    # ::numeric(10,2) and CAST
    """
    SELECT currency,
           (sum(amount) / count(*))::numeric(10,2) AS avg_amount,
           CAST(max(amount) AS integer) AS max_whole,
           CAST(count(*) AS text) AS orders_text
    FROM orders
    GROUP BY currency
    ORDER BY currency
    """,
    # Bernoulli sample with REPEATABLE
    """
    SELECT status, count(*) AS sampled_orders
    FROM orders TABLESAMPLE BERNOULLI (10) REPEATABLE (42)
    GROUP BY status
    ORDER BY status
    """,
    # system sample with REPEATABLE
    """
    SELECT count(*) AS sampled_lines, sum(quantity) AS sampled_units
    FROM order_items TABLESAMPLE SYSTEM (50) REPEATABLE (7)
    """,
    # sampled customers joined to orders
    """
    SELECT c.segment, count(DISTINCT c.customer_id) AS sampled_customers, count(o.order_id) AS orders
    FROM customers c TABLESAMPLE BERNOULLI (20) REPEATABLE (1)
    LEFT JOIN orders o ON o.customer_id = c.customer_id
    GROUP BY c.segment
    ORDER BY c.segment
    """,
    # sampled orders in a CTE
    """
    WITH s AS (
        SELECT * FROM orders TABLESAMPLE SYSTEM (50) REPEATABLE (7)
    )
    SELECT currency, count(*) AS orders, sum(amount) AS revenue
    FROM s
    GROUP BY currency
    ORDER BY currency
    """,
    # revenue per product category
    """
    SELECT p.category, sum(oi.quantity * oi.unit_price) AS revenue, sum(oi.quantity) AS units
    FROM order_items oi
    JOIN products p ON p.product_id = oi.product_id
    GROUP BY p.category
    ORDER BY revenue DESC, p.category
    """,
    # basket size distribution
    """
    SELECT lines, count(*) AS orders, round(avg(units), 2) AS avg_units
    FROM (
        SELECT order_id, count(*) AS lines, sum(quantity) AS units FROM order_items GROUP BY order_id
    ) b
    GROUP BY lines
    ORDER BY lines
    """,
    # products never ordered (NOT EXISTS)
    """
    SELECT count(*) AS never_ordered
    FROM products p
    WHERE NOT EXISTS (SELECT 1 FROM order_items oi WHERE oi.product_id = p.product_id)
    """,
    # products bought together (self-join)
    """
    SELECT a.product_id AS product_a, b.product_id AS product_b, count(*) AS together
    FROM order_items a
    JOIN order_items b ON a.order_id = b.order_id AND a.product_id < b.product_id
    GROUP BY a.product_id, b.product_id
    ORDER BY together DESC, product_a, product_b
    LIMIT 20
    """,
    # monthly cohorts by first order
    """
    WITH firsts AS (
        SELECT customer_id, date_trunc('month', min(order_date))::date AS cohort
        FROM orders
        GROUP BY customer_id
    )
    SELECT f.cohort,
           (extract(year FROM age(date_trunc('month', o.order_date), f.cohort)) * 12
            + extract(month FROM age(date_trunc('month', o.order_date), f.cohort)))::int AS months_since,
           count(DISTINCT o.customer_id) AS active
    FROM firsts f
    JOIN orders o ON o.customer_id = f.customer_id
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # running total of daily revenue
    """
    SELECT order_date, sum(amount) AS revenue,
           sum(sum(amount)) OVER (ORDER BY order_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
               AS running_revenue
    FROM orders
    WHERE order_date < DATE '2025-03-01'
    GROUP BY order_date
    ORDER BY order_date
    """,
    # 7-day moving average (ROWS)
    """
    SELECT order_date, count(*) AS orders,
           round(avg(count(*)) OVER (ORDER BY order_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2)
               AS orders_7d_avg
    FROM orders
    GROUP BY order_date
    ORDER BY order_date
    """,
    # trailing 7 days with a RANGE frame over dates
    """
    SELECT order_date, daily,
           sum(daily) OVER (ORDER BY order_date RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW)
               AS trailing_7d
    FROM (SELECT order_date, sum(amount) AS daily FROM orders GROUP BY order_date) d
    ORDER BY order_date
    """,
    # named WINDOW clause
    """
    SELECT country, month, revenue,
           sum(revenue) OVER w AS cumulative,
           revenue - lag(revenue) OVER w AS change
    FROM (
        SELECT c.country, date_trunc('month', o.order_date)::date AS month, sum(o.amount) AS revenue
        FROM orders o
        JOIN customers c ON c.customer_id = o.customer_id
        GROUP BY 1, 2
    ) m
    WINDOW w AS (PARTITION BY country ORDER BY month)
    ORDER BY country, month
    """,
    # ROLLUP with GROUPING()
    """
    SELECT c.country, c.segment, count(*) AS orders, sum(o.amount) AS revenue,
           GROUPING(c.country, c.segment) AS grouping_level
    FROM orders o
    JOIN customers c ON c.customer_id = o.customer_id
    GROUP BY ROLLUP (c.country, c.segment)
    ORDER BY grouping_level, c.country NULLS LAST, c.segment NULLS LAST
    """,
    # CUBE over status and currency
    """
    SELECT status, currency, count(*) AS orders
    FROM orders
    GROUP BY CUBE (status, currency)
    ORDER BY status NULLS LAST, currency NULLS LAST
    """,
    # GROUPING SETS
    """
    SELECT p.category, oi.quantity, count(*) AS lines
    FROM order_items oi
    JOIN products p USING (product_id)
    GROUP BY GROUPING SETS ((p.category), (oi.quantity), ())
    ORDER BY p.category NULLS LAST, oi.quantity NULLS LAST
    """,
    # bounded recursive calendar of 12 months
    """
    WITH RECURSIVE months(month_start) AS (
        SELECT DATE '2025-01-01'
        UNION ALL
        SELECT (month_start + interval '1 month')::date FROM months WHERE month_start < DATE '2025-12-01'
    )
    SELECT m.month_start, count(o.order_id) AS orders, coalesce(sum(o.amount), 0) AS revenue
    FROM months m
    LEFT JOIN orders o ON date_trunc('month', o.order_date) = m.month_start
    GROUP BY m.month_start
    ORDER BY m.month_start
    """,
    # CTE whose name differs in case from its reference
    """
    WITH Monthly AS (
        SELECT date_trunc('month', order_date)::date AS month, sum(amount) AS revenue
        FROM orders
        GROUP BY 1
    )
    SELECT * FROM monthly ORDER BY month
    """,
    # quoted CTE name referenced with the same quoting
    """
    WITH "Top Products" AS (
        SELECT product_id, sum(quantity) AS units
        FROM order_items
        GROUP BY product_id
        ORDER BY units DESC, product_id
        LIMIT 10
    )
    SELECT t.product_id, p.name, t.units
    FROM "Top Products" t
    JOIN products p ON p.product_id = t.product_id
    ORDER BY t.units DESC, t.product_id
    """,
    # LATERAL: three most recent orders per customer
    """
    SELECT c.customer_id, c.name, r.order_id, r.order_date
    FROM customers c
    CROSS JOIN LATERAL (
        SELECT o.order_id, o.order_date
        FROM orders o
        WHERE o.customer_id = c.customer_id
        ORDER BY o.order_date DESC, o.order_id DESC
        LIMIT 3
    ) r
    WHERE c.customer_id <= 10
    ORDER BY c.customer_id, r.order_date DESC, r.order_id DESC
    """,
    # LEFT JOIN LATERAL with an aggregate
    """
    SELECT p.category, p.product_id, s.units
    FROM products p
    LEFT JOIN LATERAL (
        SELECT sum(oi.quantity) AS units FROM order_items oi WHERE oi.product_id = p.product_id
    ) s ON true
    WHERE p.category = 'toys'
    ORDER BY p.product_id
    """,
    # FULL OUTER JOIN of two monthly series
    """
    SELECT coalesce(s.month, o.month) AS month, s.signups, o.orders
    FROM (SELECT date_trunc('month', signup_date)::date AS month, count(*) AS signups FROM customers GROUP BY 1) s
    FULL OUTER JOIN (SELECT date_trunc('month', order_date)::date AS month, count(*) AS orders FROM orders GROUP BY 1) o
      ON o.month = s.month
    ORDER BY month
    """,
    # CROSS JOIN with a small VALUES side
    """
    SELECT t.threshold, count(*) FILTER (WHERE o.amount >= t.threshold) AS orders_above
    FROM orders o
    CROSS JOIN (VALUES (100), (500), (900)) AS t(threshold)
    GROUP BY t.threshold
    ORDER BY t.threshold
    """,
    # self-join: customers who signed up the same day in the same country
    """
    SELECT a.customer_id, b.customer_id AS same_day_customer, a.country, a.signup_date
    FROM customers a
    JOIN customers b ON b.signup_date = a.signup_date AND b.country = a.country AND b.customer_id > a.customer_id
    ORDER BY a.signup_date, a.customer_id, b.customer_id
    LIMIT 30
    """,
    # JOIN ... USING with three tables
    """
    SELECT o.order_id, o.order_date, oi.line, oi.product_id, oi.quantity
    FROM orders o
    JOIN order_items oi USING (order_id)
    JOIN products p USING (product_id)
    WHERE o.customer_id = 99 AND p.category IN ('books', 'games')
    ORDER BY o.order_id, oi.line
    """,
    # UNION ALL with labels
    """
    SELECT 'customers' AS entity, count(*) AS n FROM customers
    UNION ALL
    SELECT 'orders', count(*) FROM orders
    UNION ALL
    SELECT 'products', count(*) FROM products
    UNION ALL
    SELECT 'order lines', count(*) FROM order_items
    ORDER BY entity
    """,
    # INTERSECT: customers who ordered in both years
    """
    SELECT customer_id FROM orders WHERE order_date < DATE '2026-01-01'
    INTERSECT
    SELECT customer_id FROM orders WHERE order_date >= DATE '2026-01-01'
    ORDER BY customer_id
    LIMIT 25
    """,
    # EXCEPT: customers who ordered in 2025 but not in 2026
    """
    SELECT count(*) AS lapsed
    FROM (
        SELECT customer_id FROM orders WHERE order_date < DATE '2026-01-01'
        EXCEPT
        SELECT customer_id FROM orders WHERE order_date >= DATE '2026-01-01'
    ) x
    """,
    # UNION (distinct)
    """
    SELECT country AS code FROM customers
    UNION
    SELECT currency FROM orders
    ORDER BY code
    """,
    # correlated subqueries in SELECT
    """
    SELECT c.customer_id, c.name,
           (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) AS orders,
           (SELECT max(o.amount) FROM orders o WHERE o.customer_id = c.customer_id) AS biggest
    FROM customers c
    WHERE c.customer_id <= 20
    ORDER BY c.customer_id
    """,
    # correlated subquery in WHERE
    """
    SELECT o.order_id, o.customer_id, o.amount
    FROM orders o
    WHERE o.customer_id <= 30
      AND o.amount > (SELECT avg(o2.amount) * 1.5 FROM orders o2 WHERE o2.customer_id = o.customer_id)
    ORDER BY o.customer_id, o.order_id
    """,
    # IN (subquery)
    """
    SELECT p.category, count(*) AS lines
    FROM order_items oi
    JOIN products p ON p.product_id = oi.product_id
    WHERE oi.order_id IN (SELECT order_id FROM orders WHERE currency = 'USD' AND status = 'shipped')
    GROUP BY p.category
    ORDER BY p.category
    """,
    # EXISTS
    """
    SELECT c.country, count(*) AS customers_with_returns
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.status = 'returned')
    GROUP BY c.country
    ORDER BY c.country
    """,
    # pg_orders: the small archive table
    """
    SELECT count(*) AS archived_orders, sum(amount) AS archived_revenue, max(order_id) AS last_id
    FROM pg_orders
    """,
    # pg_orders joined to orders
    """
    SELECT o.status, count(*) AS orders, sum(p.amount) AS archived_amount
    FROM pg_orders p
    JOIN orders o ON o.order_id = p.order_id
    GROUP BY o.status
    ORDER BY o.status
    """,
    # pg_orders top 5 with LIMIT
    """
    SELECT order_id, amount
    FROM pg_orders
    ORDER BY amount DESC, order_id
    LIMIT 5
    """,
    # LIKE / ILIKE / regex operators
    """
    SELECT count(*) FILTER (WHERE name LIKE 'Customer 1%') AS like_1,
           count(*) FILTER (WHERE name ILIKE 'customer 2%') AS ilike_2,
           count(*) FILTER (WHERE name ~ '5$') AS ends_in_5,
           count(*) FILTER (WHERE name ~* '^CUSTOMER 3') AS regex_ci_3,
           count(*) FILTER (WHERE name NOT LIKE '%0') AS not_ending_0
    FROM customers
    """,
    # ::date casts of a timestamptz (in UTC)
    """
    SELECT (created_at AT TIME ZONE 'UTC')::date AS created_day, count(*) AS orders,
           count(*) FILTER (WHERE (created_at AT TIME ZONE 'UTC')::date <> order_date) AS mismatched
    FROM orders
    WHERE order_date BETWEEN DATE '2025-06-01' AND DATE '2025-06-07'
    GROUP BY 1
    ORDER BY 1
    """,
    # NULLIF against division by zero
    """
    SELECT c.segment,
           count(o.order_id) AS orders,
           count(DISTINCT c.customer_id) AS customers,
           round(count(o.order_id)::numeric / NULLIF(count(DISTINCT c.customer_id), 0), 2) AS orders_per_customer
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.currency = 'USD'
    GROUP BY c.segment
    ORDER BY c.segment
    """,
    # price tiers with CASE
    """
    SELECT CASE
               WHEN price < 50 THEN 'budget'
               WHEN price < 150 THEN 'standard'
               ELSE 'premium'
           END AS tier,
           count(*) AS products,
           min(price) AS min_price,
           max(price) AS max_price
    FROM products
    GROUP BY 1
    ORDER BY min(price)
    """,
    # de-duplicate with ROW_NUMBER: biggest line per order
    """
    SELECT order_id, line, product_id, quantity * unit_price AS line_value
    FROM (
        SELECT oi.*, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY quantity * unit_price DESC, line) AS rn
        FROM order_items oi
        WHERE order_id <= 40
    ) t
    WHERE rn = 1
    ORDER BY order_id
    """,
    # top 3 products per category with RANK
    """
    SELECT category, product_id, units, rnk
    FROM (
        SELECT p.category, p.product_id, sum(oi.quantity) AS units,
               RANK() OVER (PARTITION BY p.category ORDER BY sum(oi.quantity) DESC, p.product_id) AS rnk
        FROM products p
        JOIN order_items oi ON oi.product_id = p.product_id
        GROUP BY p.category, p.product_id
    ) r
    WHERE rnk <= 3
    ORDER BY category, rnk
    """,
    # share of revenue per country
    """
    SELECT c.country, sum(o.amount) AS revenue,
           round(100 * sum(o.amount) / sum(sum(o.amount)) OVER (), 2) AS share_pct
    FROM orders o
    JOIN customers c ON c.customer_id = o.customer_id
    GROUP BY c.country
    ORDER BY share_pct DESC, c.country
    """,
    # year-over-year for the same months
    """
    WITH m AS (
        SELECT date_part('year', order_date)::int AS yr, date_part('month', order_date)::int AS mo,
               sum(amount) AS revenue
        FROM orders
        GROUP BY 1, 2
    )
    SELECT cur.mo, prev.revenue AS revenue_2025, cur.revenue AS revenue_2026,
           round(100 * (cur.revenue / prev.revenue - 1), 2) AS yoy_pct
    FROM m cur
    JOIN m prev ON prev.mo = cur.mo AND prev.yr = cur.yr - 1
    ORDER BY cur.mo
    """,
    # month-over-month growth with LAG
    """
    SELECT month, revenue,
           lag(revenue) OVER (ORDER BY month) AS prev_revenue,
           round(100 * (revenue / lag(revenue) OVER (ORDER BY month) - 1), 2) AS growth_pct
    FROM (SELECT date_trunc('month', order_date)::date AS month, sum(amount) AS revenue FROM orders GROUP BY 1) m
    ORDER BY month
    """,
    # histogram with floor buckets
    """
    SELECT floor(amount / 100) * 100 AS bucket_from, count(*) AS orders
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # average gap between a customer's orders
    """
    WITH g AS (
        SELECT customer_id, order_date,
               order_date - lag(order_date) OVER (PARTITION BY customer_id ORDER BY order_date, order_id) AS gap_days
        FROM orders
    )
    SELECT customer_id, count(gap_days) AS gaps, round(avg(gap_days), 1) AS avg_gap, max(gap_days) AS max_gap
    FROM g
    GROUP BY customer_id
    ORDER BY max_gap DESC, customer_id
    LIMIT 20
    """,
    # islands: runs of consecutive order days
    """
    WITH d AS (
        SELECT DISTINCT order_date FROM orders WHERE currency = 'USD'
    ), g AS (
        SELECT order_date, order_date - (ROW_NUMBER() OVER (ORDER BY order_date))::int AS grp FROM d
    )
    SELECT min(order_date) AS run_start, max(order_date) AS run_end, count(*) AS days
    FROM g
    GROUP BY grp
    ORDER BY days DESC, run_start
    LIMIT 10
    """,
    # orders per week with date_trunc('week')
    """
    SELECT date_trunc('week', order_date)::date AS week, count(*) AS orders, sum(amount) AS revenue
    FROM orders
    WHERE order_date >= DATE '2025-12-01'
    GROUP BY 1
    ORDER BY 1
    """,
    # day names with to_char
    """
    SELECT to_char(signup_date, 'FMDay') AS weekday, count(*) AS signups
    FROM customers
    GROUP BY 1
    ORDER BY signups DESC, weekday
    """,
    # make_date and date arithmetic
    """
    SELECT count(*) AS orders_in_q1_2025,
           max(order_date) - min(order_date) AS span_days
    FROM orders
    WHERE order_date >= make_date(2025, 1, 1) AND order_date < make_date(2025, 4, 1)
    """,
    # age in months with justify_days of an interval
    """
    SELECT customer_id, signup_date,
           justify_days(interval '1 day' * (DATE '2026-03-01' - signup_date)) AS tenure,
           date_part('year', age(DATE '2026-03-01', signup_date)) AS full_years
    FROM customers
    WHERE customer_id % 50 = 0
    ORDER BY customer_id
    """,
    # assorted string functions
    """
    SELECT customer_id,
           lower(name) AS lower_name,
           upper(left(name, 3)) AS prefix,
           right(name, 3) AS suffix,
           substr(name, 10) AS tail,
           strpos(name, ' ') AS space_at,
           concat_ws('-', country, segment) AS key,
           lpad(customer_id::text, 6, '0') AS padded,
           reverse(name) AS reversed,
           length(name) AS len
    FROM customers
    WHERE customer_id IN (1, 22, 333)
    ORDER BY customer_id
    """,
    # regexp_replace with the g flag
    r"""
    SELECT product_id, regexp_replace(name, '\s+', '_', 'g') AS slug, replace(lower(name), 'product', 'p') AS short
    FROM products
    WHERE product_id <= 8
    ORDER BY product_id
    """,
    # array_to_string of tags
    """
    SELECT array_to_string(tags, '|') AS tag_set, count(*) AS orders
    FROM orders
    GROUP BY 1
    ORDER BY orders DESC, tag_set
    """,
    # array_agg with DISTINCT and ORDER BY
    """
    SELECT customer_id, array_agg(DISTINCT status ORDER BY status) AS statuses,
           array_agg(order_id ORDER BY order_id) AS order_ids
    FROM orders
    WHERE customer_id <= 10
    GROUP BY customer_id
    ORDER BY customer_id
    """,
    # items from the json payload vs order lines
    """
    SELECT (o.payload->>'items')::int AS payload_items, count(DISTINCT o.order_id) AS orders,
           round(avg(l.lines), 2) AS avg_lines
    FROM orders o
    JOIN (SELECT order_id, count(*) AS lines FROM order_items GROUP BY order_id) l ON l.order_id = o.order_id
    GROUP BY 1
    ORDER BY 1
    """,
    # array containment and overlap
    """
    SELECT count(*) FILTER (WHERE tags @> ARRAY['t2']) AS has_t2,
           count(*) FILTER (WHERE tags && ARRAY['c0', 'c1']) AS has_c0_or_c1,
           count(*) FILTER (WHERE tags <@ ARRAY['t0', 'c0', 'c1']) AS within_set
    FROM orders
    """,
    # quartiles with percentile_cont of an array
    """
    SELECT currency, percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY amount) AS quartiles
    FROM orders
    GROUP BY currency
    ORDER BY currency
    """,
    # mode() of the sales channel per status
    """
    SELECT status, mode() WITHIN GROUP (ORDER BY payload->>'channel') AS most_common_channel, count(*) AS orders
    FROM orders
    GROUP BY status
    ORDER BY status
    """,
    # bool_and / bool_or per customer
    """
    SELECT count(*) FILTER (WHERE all_eur) AS eur_only_customers,
           count(*) FILTER (WHERE any_return) AS customers_with_return
    FROM (
        SELECT customer_id, bool_and(currency = 'EUR') AS all_eur, bool_or(status = 'returned') AS any_return
        FROM orders
        GROUP BY customer_id
    ) t
    """,
    # spend deciles with NTILE
    """
    WITH spend AS (
        SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id
    )
    SELECT decile, count(*) AS customers, min(total) AS min_spend, max(total) AS max_spend
    FROM (SELECT customer_id, total, ntile(10) OVER (ORDER BY total, customer_id) AS decile FROM spend) d
    GROUP BY decile
    ORDER BY decile
    """,
    # first / last / nth values within a customer's history
    """
    SELECT DISTINCT customer_id,
           first_value(order_date) OVER w AS first_order,
           last_value(order_date) OVER w AS last_order,
           nth_value(order_date, 2) OVER w AS second_order
    FROM orders
    WHERE customer_id <= 15
    WINDOW w AS (PARTITION BY customer_id ORDER BY order_date, order_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ORDER BY customer_id
    """,
    # product ranking functions
    """
    SELECT product_id, price,
           rank() OVER (ORDER BY price DESC) AS price_rank,
           dense_rank() OVER (ORDER BY price DESC) AS dense_price_rank,
           round(percent_rank() OVER (ORDER BY price)::numeric, 3) AS pct_rank,
           round(cume_dist() OVER (ORDER BY price)::numeric, 3) AS cume
    FROM products
    WHERE category = 'garden'
    ORDER BY price DESC, product_id
    """,
    # unusual days by z-score
    """
    WITH daily AS (
        SELECT order_date, sum(amount) AS revenue FROM orders GROUP BY order_date
    ), stats AS (
        SELECT avg(revenue) AS mean_rev, stddev_samp(revenue) AS sd_rev FROM daily
    )
    SELECT d.order_date, d.revenue, round((d.revenue - s.mean_rev) / s.sd_rev, 2) AS z_score
    FROM daily d
    CROSS JOIN stats s
    WHERE abs(d.revenue - s.mean_rev) > 2 * s.sd_rev
    ORDER BY z_score DESC, d.order_date
    """,
    # pivot of channels with FILTER
    """
    SELECT c.country,
           count(*) FILTER (WHERE o.payload->>'channel' = 'web') AS web,
           count(*) FILTER (WHERE o.payload->>'channel' = 'app') AS app,
           count(*) FILTER (WHERE o.payload->>'channel' = 'shop') AS shop
    FROM orders o
    JOIN customers c ON c.customer_id = o.customer_id
    GROUP BY c.country
    ORDER BY c.country
    """,
    # new vs returning customers per month
    """
    WITH firsts AS (
        SELECT customer_id, min(order_date) AS first_date FROM orders GROUP BY customer_id
    )
    SELECT date_trunc('month', o.order_date)::date AS month,
           count(DISTINCT o.customer_id) FILTER (WHERE o.order_date = f.first_date) AS new_customers,
           count(DISTINCT o.customer_id) FILTER (WHERE o.order_date > f.first_date) AS returning_customers
    FROM orders o
    JOIN firsts f USING (customer_id)
    GROUP BY 1
    ORDER BY 1
    """,
    # frequency distribution of orders per customer
    """
    SELECT n_orders, count(*) AS customers
    FROM (SELECT customer_id, count(*) AS n_orders FROM orders GROUP BY customer_id) t
    GROUP BY n_orders
    ORDER BY n_orders
    """,
    # RFM-style scores
    """
    WITH rfm AS (
        SELECT customer_id,
               DATE '2026-03-01' - max(order_date) AS recency_days,
               count(*) AS frequency,
               sum(amount) AS monetary
        FROM orders
        GROUP BY customer_id
    )
    SELECT customer_id, recency_days, frequency, monetary,
           ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
           ntile(5) OVER (ORDER BY frequency, customer_id) AS f_score,
           ntile(5) OVER (ORDER BY monetary, customer_id) AS m_score
    FROM rfm
    ORDER BY customer_id
    LIMIT 25
    """,
    # category revenue per month with share within month
    """
    SELECT date_trunc('month', o.order_date)::date AS month, p.category,
           sum(oi.quantity * oi.unit_price) AS revenue,
           round(100 * sum(oi.quantity * oi.unit_price)
                 / sum(sum(oi.quantity * oi.unit_price)) OVER (PARTITION BY date_trunc('month', o.order_date)), 2)
               AS share_pct
    FROM orders o
    JOIN order_items oi ON oi.order_id = o.order_id
    JOIN products p ON p.product_id = oi.product_id
    WHERE o.order_date >= DATE '2025-10-01'
    GROUP BY 1, 2, date_trunc('month', o.order_date)
    ORDER BY 1, 2
    """,
    # average days from signup to first order per segment
    """
    SELECT c.segment, round(avg(f.first_date - c.signup_date), 1) AS avg_days_to_first_order
    FROM customers c
    JOIN (SELECT customer_id, min(order_date) AS first_date FROM orders GROUP BY customer_id) f
      ON f.customer_id = c.customer_id
    GROUP BY c.segment
    ORDER BY c.segment
    """,
    # orders by hour of day (UTC)
    """
    SELECT extract(hour FROM created_at AT TIME ZONE 'UTC') AS hour_utc, count(*) AS orders
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # weekday x hour heatmap
    """
    SELECT extract(isodow FROM created_at AT TIME ZONE 'UTC') AS dow,
           extract(hour FROM created_at AT TIME ZONE 'UTC') AS hour,
           count(*) AS orders
    FROM orders
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # quarterly revenue with EXTRACT and date_part
    """
    SELECT date_part('year', order_date) AS yr, extract(quarter FROM order_date) AS qtr, sum(amount) AS revenue
    FROM orders
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # table alias with a column list
    """
    SELECT cat, count(*) AS products, round(avg(p_price), 2) AS avg_price
    FROM products AS p(pid, pname, cat, p_price)
    GROUP BY cat
    ORDER BY cat
    """,
    # subquery in SELECT list for a share
    """
    SELECT status, count(*) AS orders,
           round(100.0 * count(*) / (SELECT count(*) FROM orders), 2) AS pct_of_all
    FROM orders
    GROUP BY status
    ORDER BY status
    """,
    # mixed-case identifiers with aliases
    """
    SELECT P.Category, COUNT(DISTINCT OI.Order_Id) AS Orders, SUM(OI.Quantity) AS Units
    FROM Order_Items OI
    JOIN Products P ON P.Product_Id = OI.Product_Id
    GROUP BY P.Category
    ORDER BY P.Category
    """,
    # comments of both kinds
    """
    -- paid revenue per currency
    SELECT currency, /* amounts are stored in the order currency */ sum(amount) AS revenue
    FROM orders
    WHERE status = 'paid' -- only settled orders
    GROUP BY currency
    ORDER BY currency
    """,
    # pagination with LIMIT / OFFSET
    """
    SELECT order_id, order_date, amount
    FROM orders
    ORDER BY order_date DESC, order_id DESC
    LIMIT 15 OFFSET 30
    """,
    # NULLS FIRST ordering with a LEFT JOIN
    """
    SELECT c.customer_id, max(o.order_date) AS last_order
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.status = 'returned' AND o.currency = 'USD'
    WHERE c.customer_id <= 40
    GROUP BY c.customer_id
    ORDER BY last_order NULLS FIRST, c.customer_id
    """,
    # currency conversion with a constant rate
    """
    SELECT date_trunc('month', order_date)::date AS month,
           round(sum(CASE WHEN currency = 'USD' THEN amount * 0.92 ELSE amount END)::numeric, 2) AS revenue_eur
    FROM orders
    GROUP BY 1
    ORDER BY 1
    """,
    # price bands with width_bucket on products
    """
    SELECT width_bucket(price, 0, 200, 4) AS band, count(*) AS products,
           min(price) AS from_price, max(price) AS to_price
    FROM products
    GROUP BY 1
    ORDER BY 1
    """,
    # categories with HAVING
    """
    SELECT category, count(*) AS products, avg(price)::numeric(10,2) AS avg_price
    FROM products
    GROUP BY category
    HAVING count(*) >= 10 AND avg(price) > 50
    ORDER BY category
    """,
    # orders whose line total differs from the stored amount
    """
    SELECT o.order_id, o.amount, sum(oi.quantity * oi.unit_price) AS lines_total,
           o.amount - sum(oi.quantity * oi.unit_price) AS difference
    FROM orders o
    JOIN order_items oi ON oi.order_id = o.order_id
    WHERE o.order_id <= 25
    GROUP BY o.order_id, o.amount
    ORDER BY o.order_id
    """,
    # DISTINCT over several columns
    """
    SELECT DISTINCT country, segment
    FROM customers
    ORDER BY country, segment
    """,
    # nested CTE inside a CTE's subquery
    """
    WITH per_customer AS (
        SELECT x.customer_id, x.total
        FROM (
            WITH t AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id)
            SELECT * FROM t
        ) x
    )
    SELECT c.country, round(avg(p.total), 2) AS avg_customer_value
    FROM per_customer p
    JOIN customers c ON c.customer_id = p.customer_id
    GROUP BY c.country
    ORDER BY c.country
    """,
    # array slice of tags
    """
    SELECT tags[1:1] AS first_tag_only, tags[2] AS second_tag, count(*) AS orders
    FROM orders
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # hourly bins with date_bin
    """
    SELECT date_bin('1 hour', created_at AT TIME ZONE 'UTC', TIMESTAMP '2025-01-01') AS hour_bin, count(*) AS orders
    FROM orders
    WHERE order_date = DATE '2025-05-05'
    GROUP BY 1
    ORDER BY 1
    """,
    # tags per customer with string_agg over unnest
    """
    SELECT o.customer_id, string_agg(DISTINCT t.tag, ',' ORDER BY t.tag) AS all_tags
    FROM orders o, unnest(o.tags) AS t(tag)
    WHERE o.customer_id <= 10
    GROUP BY o.customer_id
    ORDER BY o.customer_id
    """,
    # jsonb keys to text and numbers
    """
    SELECT order_id, payload->>'channel' AS channel, (payload->>'items')::int * 2 AS double_items,
           payload->'channel' AS channel_json
    FROM orders
    WHERE order_id <= 6
    ORDER BY order_id
    """,
    # SIMILAR TO on names
    """
    SELECT count(*) AS two_digit_customers
    FROM customers
    WHERE name SIMILAR TO 'Customer [0-9]{2}'
    """,
    # interval arithmetic on timestamps
    """
    SELECT order_id, created_at AT TIME ZONE 'UTC' AS created_utc,
           (created_at + interval '3 days') AT TIME ZONE 'UTC' AS ship_by_utc,
           (created_at AT TIME ZONE 'UTC')::date - order_date AS day_offset
    FROM orders
    WHERE order_id BETWEEN 500 AND 510
    ORDER BY order_id
    """,
    # cumulative customers per country with a RANGE frame
    """
    SELECT country, signup_month, signups,
           sum(signups) OVER (PARTITION BY country ORDER BY signup_month
                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total_so_far
    FROM (
        SELECT country, date_trunc('month', signup_date)::date AS signup_month, count(*) AS signups
        FROM customers
        GROUP BY 1, 2
    ) s
    ORDER BY country, signup_month
    """,
    # RIGHT JOIN: lines for every product of one category
    """
    SELECT p.product_id, p.name, count(oi.order_id) AS lines
    FROM order_items oi
    RIGHT JOIN products p ON p.product_id = oi.product_id
    WHERE p.category = 'kitchen'
    GROUP BY p.product_id, p.name
    ORDER BY p.product_id
    """,
    # scalar subquery threshold: orders above the 95th percentile
    """
    SELECT order_id, customer_id, amount
    FROM orders
    WHERE amount > (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY amount) FROM orders)
      AND order_date >= DATE '2026-02-01'
    ORDER BY amount DESC, order_id
    """,
    # NOT IN with a subquery
    """
    SELECT count(*) AS customers_without_usd_orders
    FROM customers
    WHERE customer_id NOT IN (SELECT customer_id FROM orders WHERE currency = 'USD')
    """,
    # units per order status and category (three-way join with ROLLUP on one column)
    """
    SELECT o.status, p.category, sum(oi.quantity) AS units
    FROM orders o
    JOIN order_items oi ON oi.order_id = o.order_id
    JOIN products p ON p.product_id = oi.product_id
    GROUP BY o.status, ROLLUP (p.category)
    ORDER BY o.status, p.category NULLS LAST
    """,
    # initcap and split_part of product names with a regex filter
    """
    SELECT initcap(category) AS category_label, split_part(name, ' ', 1) AS kind, count(*) AS products
    FROM products
    WHERE category ~ '^(books|toys)$'
    GROUP BY 1, 2
    ORDER BY 1, 2
    """,
    # status transitions within customers (LEAD)
    """
    SELECT status, next_status, count(*) AS transitions
    FROM (
        SELECT status, lead(status) OVER (PARTITION BY customer_id ORDER BY order_date, order_id) AS next_status
        FROM orders
    ) t
    WHERE next_status IS NOT NULL
    GROUP BY status, next_status
    ORDER BY status, next_status
    """,
    # to_char of timestamps and epoch seconds
    """
    SELECT order_id,
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS created_text,
           extract(epoch FROM created_at)::bigint AS created_epoch
    FROM orders
    WHERE customer_id = 300
    ORDER BY order_id
    """,
    # customers whose signup week had many signups (IN with GROUP BY / HAVING)
    """
    SELECT date_trunc('week', signup_date)::date AS week, count(*) AS signups
    FROM customers
    WHERE date_trunc('week', signup_date) IN (
        SELECT date_trunc('week', signup_date) FROM customers GROUP BY 1 HAVING count(*) >= 6
    )
    GROUP BY 1
    ORDER BY 1
    LIMIT 20
    """,
]

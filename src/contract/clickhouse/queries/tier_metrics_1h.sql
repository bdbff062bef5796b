-- Tier metrics of the last hour: active users, sessions, events by type, searches, orders, revenue, average order value, conversion rate
-- Reads the per-minute rollups only (last 60 minute buckets including the current one). Orders are PURCHASE
-- events; conversion rate = sessions with a purchase / sessions with any event in the window. Distinct counts
-- (users, sessions) are uniqCombined(14) estimates, ~0.5% error at these sizes (exact for small sets).
SELECT a.tier AS tier,
       a.active_users AS active_users,
       a.sessions AS sessions,
       e.n_events AS events,
       e.page_views AS page_views,
       e.product_views AS product_views,
       e.searches AS searches,
       e.cart_adds AS cart_adds,
       e.cart_removes AS cart_removes,
       e.checkouts AS checkouts,
       e.orders AS orders,
       e.logins AS logins,
       e.logouts AS logouts,
       round(e.purchase_revenue, 2) AS revenue,
       round(e.purchase_revenue / greatest(e.orders, 1), 2) AS avg_order_value,
       round(a.purchasing_sessions / greatest(a.sessions, 1), 4) AS conversion_rate
FROM
(
    SELECT tier,
           uniqCombinedMerge(14)(users) AS active_users,
           uniqCombinedMerge(14)(sessions) AS sessions,
           uniqCombinedIfMerge(14)(purchasing_sessions) AS purchasing_sessions
    FROM activity_by_minute
    WHERE minute >= toStartOfMinute(now()) - INTERVAL 59 MINUTE
    GROUP BY tier
) AS a
LEFT JOIN
(
    SELECT tier,
           countMerge(events) AS n_events,
           countMergeIf(events, event_type = 'PAGE_VIEW') AS page_views,
           countMergeIf(events, event_type = 'PRODUCT_VIEW') AS product_views,
           countMergeIf(events, event_type = 'SEARCH') AS searches,
           countMergeIf(events, event_type = 'ADD_TO_CART') AS cart_adds,
           countMergeIf(events, event_type = 'REMOVE_FROM_CART') AS cart_removes,
           countMergeIf(events, event_type = 'CHECKOUT_START') AS checkouts,
           countMergeIf(events, event_type = 'PURCHASE') AS orders,
           countMergeIf(events, event_type = 'LOGIN') AS logins,
           countMergeIf(events, event_type = 'LOGOUT') AS logouts,
           sumMergeIf(revenue, event_type = 'PURCHASE') AS purchase_revenue
    FROM events_by_minute
    WHERE minute >= toStartOfMinute(now()) - INTERVAL 59 MINUTE
    GROUP BY tier
) AS e ON e.tier = a.tier
ORDER BY indexOf(['Bronze', 'Silver', 'Gold', 'Platinum'], tier), tier;

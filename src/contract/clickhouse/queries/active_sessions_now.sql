-- Active sessions now per tier: sessions not closed yet with an event in the last 30 minutes (the session timeout), their users, open carts and revenue so far
-- FINAL keeps the latest version of each session; PREWHERE on end_time filters before FINAL (exact, since end_time
-- never decreases from one version to the next: see funnel_by_tier_15m), WHERE on status after it.
SELECT tier,
       count() AS active_sessions,
       uniqExact(user_id) AS active_users,
       countIf(cart_adds > 0 AND purchases = 0) AS open_carts,
       countIf(purchases > 0) AS with_purchase,
       round(sum(revenue), 2) AS revenue_so_far,
       round(avg(duration_ms) / 1000, 1) AS avg_duration_s,
       round(avg(events_total), 1) AS avg_events
FROM sessions FINAL
PREWHERE end_time >= now64(3) - INTERVAL 30 MINUTE
WHERE status = 'active'
GROUP BY tier
ORDER BY indexOf(['Bronze', 'Silver', 'Gold', 'Platinum'], tier), tier
SETTINGS use_skip_indexes_if_final = 1;

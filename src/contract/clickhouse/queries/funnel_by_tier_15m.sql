-- Conversion funnel per tier over sessions with an event in the last 15 minutes: sessions reaching each stage, step conversion rates, cart abandonment
-- Window: the last 15 minute buckets including the current one (as the rollup queries). FINAL keeps the latest
-- version of each session; PREWHERE on end_time filters rows before FINAL merges them, so only the window's rows
-- are read and merged. That is exact because a session's end_time never decreases from one version to the next:
-- whenever any version is in the window, so is the latest (WHERE would merge every session first: 2-3x slower).
-- The minmax index on end_time skips granules of older sessions; it only drops rows the PREWHERE drops anyway,
-- so it is exact with FINAL too; use_skip_indexes_if_final is set because its default differs across versions.
-- funnel_stage is the furthest stage reached (1 PRODUCT_VIEW, 2 ADD_TO_CART, 3 CHECKOUT_START, 4 PURCHASE).
-- Cart abandonment: closed sessions with a cart add and no purchase / closed sessions with a cart add.
SELECT tier,
       count() AS sessions,
       countIf(funnel_stage >= 1) AS product_view,
       countIf(funnel_stage >= 2) AS add_to_cart,
       countIf(funnel_stage >= 3) AS checkout_start,
       countIf(funnel_stage >= 4) AS purchase,
       round(add_to_cart / greatest(product_view, 1), 4) AS view_to_cart_rate,
       round(checkout_start / greatest(add_to_cart, 1), 4) AS cart_to_checkout_rate,
       round(purchase / greatest(checkout_start, 1), 4) AS checkout_to_purchase_rate,
       round(countIf(converted = 1) / greatest(sessions, 1), 4) AS conversion_rate,
       countIf(status = 'closed' AND cart_adds > 0) AS closed_with_cart,
       countIf(status = 'closed' AND cart_abandoned = 1) AS abandoned_carts,
       round(abandoned_carts / greatest(closed_with_cart, 1), 4) AS cart_abandonment_rate
FROM sessions FINAL
PREWHERE end_time >= toStartOfMinute(now()) - INTERVAL 14 MINUTE
GROUP BY tier
ORDER BY indexOf(['Bronze', 'Silver', 'Gold', 'Platinum'], tier), tier
SETTINGS use_skip_indexes_if_final = 1;

-- Top 10 products by views in the last 5 minutes, with cart adds
SELECT product_id, countIf(event_type = 'PRODUCT_VIEW') AS views, countIf(event_type = 'ADD_TO_CART') AS cart_adds
FROM events
WHERE event_time >= now64(3) - INTERVAL 5 MINUTE AND product_id != ''
GROUP BY product_id
ORDER BY views DESC
LIMIT 10;

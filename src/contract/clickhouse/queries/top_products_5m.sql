-- Top 10 products by views in the last 5 minutes, with cart adds, removes and the view-to-cart rate
-- Reads the per-minute product rollup (last 5 minute buckets including the current one).
SELECT product_id,
       anyMerge(category) AS category,
       countIfMerge(views) AS views,
       countIfMerge(cart_adds) AS cart_adds,
       countIfMerge(cart_removes) AS cart_removes,
       round(cart_adds / greatest(views, 1), 4) AS view_to_cart_rate
FROM products_by_minute
WHERE minute >= toStartOfMinute(now()) - INTERVAL 4 MINUTE
GROUP BY product_id
ORDER BY views DESC, cart_adds DESC, product_id
LIMIT 10;

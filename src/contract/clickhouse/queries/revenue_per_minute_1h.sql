-- Orders and revenue per minute over the last hour
SELECT toStartOfMinute(event_time) AS minute, count() AS orders, round(sum(revenue), 2) AS revenue
FROM events
WHERE event_type = 'PURCHASE' AND event_time >= now64(3) - INTERVAL 1 HOUR
GROUP BY minute
ORDER BY minute;

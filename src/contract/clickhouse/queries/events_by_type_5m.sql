-- Events per type in the last 5 minutes
SELECT event_type, count() AS events, uniq(user_id) AS users
FROM events
WHERE event_time >= now64(3) - INTERVAL 5 MINUTE
GROUP BY event_type
ORDER BY events DESC;

-- Dead letters per reason in the last 15 minutes, and their share of all records
SELECT reason, count() AS records,
       round(count() / greatest(1, (SELECT count() FROM events WHERE event_time >= now64(3) - INTERVAL 15 MINUTE) + (SELECT count() FROM dead_letters WHERE kafka_timestamp >= now64(3) - INTERVAL 15 MINUTE)), 5) AS share
FROM dead_letters
WHERE kafka_timestamp >= now64(3) - INTERVAL 15 MINUTE
GROUP BY reason
ORDER BY records DESC;

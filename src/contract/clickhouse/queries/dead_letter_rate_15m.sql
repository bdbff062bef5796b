-- Dead letters per reason in the last 15 minutes, and their share of all records received (valid events + late events + dead letters)
-- Window: the last 15 minute buckets including the current one; valid events come from the per-minute rollup.
SELECT reason,
       count() AS records,
       any(total) AS total_records,
       round(records / greatest(total_records, 1), 5) AS share
FROM dead_letters
CROSS JOIN
(
    SELECT (SELECT countMerge(events) FROM activity_by_minute WHERE minute >= toStartOfMinute(now()) - INTERVAL 14 MINUTE)
         + (SELECT count() FROM late_events WHERE watermark >= toStartOfMinute(now()) - INTERVAL 14 MINUTE)
         + (SELECT count() FROM dead_letters WHERE kafka_timestamp >= toStartOfMinute(now()) - INTERVAL 14 MINUTE) AS total
) AS t
WHERE kafka_timestamp >= toStartOfMinute(now()) - INTERVAL 14 MINUTE
GROUP BY reason
ORDER BY records DESC, reason;

-- Data freshness: age of the newest event and of the newest insert, in milliseconds
SELECT dateDiff('millisecond', max(event_time), now64(3)) AS newest_event_age_ms,
       dateDiff('millisecond', max(inserted_at), now64(3)) AS newest_insert_age_ms,
       count() AS rows_last_minute
FROM events
WHERE event_time >= now64(3) - INTERVAL 1 MINUTE;

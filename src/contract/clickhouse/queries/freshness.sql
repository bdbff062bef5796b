-- Data freshness: age (ms) of the newest event and of the newest insert (last hour), events in the last full minute, and the Spark watermark lag
-- Reads the per-minute rollup (last 60 buckets for the newest times, so an idle pipeline shows its real age) and pipeline_progress.
SELECT if(countMerge(events) > 0, dateDiff('millisecond', maxMerge(last_event_time), now64(3)), NULL) AS newest_event_age_ms,
       if(countMerge(events) > 0, dateDiff('millisecond', maxMerge(last_inserted_at), now64(3)), NULL) AS newest_insert_age_ms,
       countMergeIf(events, minute = toStartOfMinute(now()) - INTERVAL 1 MINUTE) AS events_last_full_minute,
       (SELECT if(count() > 0, dateDiff('millisecond', max(watermark), now64(3)), NULL) FROM pipeline_progress
        WHERE batch_time >= now64(3) - INTERVAL 1 HOUR AND watermark > 0) AS watermark_lag_ms
FROM activity_by_minute
WHERE minute >= toStartOfMinute(now()) - INTERVAL 59 MINUTE;

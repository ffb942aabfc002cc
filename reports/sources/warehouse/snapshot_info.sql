select s.published_at, q.refreshed_at as quality_refreshed_at from _snapshot_info s cross join _quality_info q

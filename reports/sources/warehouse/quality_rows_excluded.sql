-- Rows the survey firm excluded (codebook row_status), per wave and reason. Evidence writes no data file
-- for a source without rows (and the strict build then fails), so a snapshot where no row was excluded
-- gives one placeholder row with rows_excluded = 0, which the data-quality page leaves out.
select wave_year, reason, reason_lv, reason_en, rows_excluded from quality_rows_excluded
union all
select null, null, null, null, 0 where not exists (select 1 from quality_rows_excluded)

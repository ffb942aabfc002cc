select wave_year, reason, reason_lv, reason_en, rows_excluded from quality_rows_excluded

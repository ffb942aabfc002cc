select source_kind, delivery_year, delivery_id, status, message, rows_loaded, loaded_at from quality_file_loads

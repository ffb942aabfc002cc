select source_kind, partition_key, file_name, status, message, rows_loaded, loaded_at from quality_file_loads

-- Every attempt to load a delivered file: loaded, unchanged (same checksum) or rejected (and why).
select
    source_kind,
    partition_key,
    file_name,
    sha256,
    size_bytes,
    rows_loaded,
    status,
    message,
    loaded_at
from {{ source('audit', 'file_loads') }}

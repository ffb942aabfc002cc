select suite, data_ref, partition_key, status, n_expectations, n_failed, failed_expectations, blocked_downstream,
       validated_at
from quality_status

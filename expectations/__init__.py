"""Great Expectations quality gates: suites as YAML data (``suites/``), the frames they
validate (``frames.py``) and the runner that tells passed, failed and crashed apart
and stores every result in the warehouse (``runner.py``)."""

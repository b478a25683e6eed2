"""The benchmark harness behind bench/run.py: servers it starts (procs), the async S3 client (s3client),
the timed workloads (workloads), the machine facts, disk baseline and profiling (machine), and the
report (report).

It is a plain folder on sys.path, not part of the coffer package: the benchmark must be able to measure
other servers without importing Coffer's server code, and Coffer's own package must never depend on it.
"""

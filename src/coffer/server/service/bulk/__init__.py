"""DS3 (Spectra) bulk jobs: planning many objects into chunks of blobs, chunk readiness, completion.

Modules:
  jobs  Bulk jobs (Spectra DS3 bulk PUT/GET/VERIFY): planning, chunk readiness, blobs, completion.
"""

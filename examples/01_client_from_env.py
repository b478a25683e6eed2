"""Create a client from the environment and look around (AIStore's `Client(endpoint)`, Spectra's
`createClientFromEnv()`, IBM COS's credentials file: one call here)."""

from __future__ import annotations

from _common import client

c = client()
print(f"endpoint {c.endpoint} (from {c.sources['endpoint']}), region {c.region}, "
      f"keys from {c.sources.get('credentials', 'nowhere: anonymous')}")
print("server identifies as Coffer" if c.is_coffer() else "a generic S3 server")
for bucket in c.list_buckets():
    print(f"  {bucket.name}  created {bucket.creation_date}")

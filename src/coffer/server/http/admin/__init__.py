"""The admin front: `/_coffer/admin/v1/...`, JSON in and out, SigV4-signed by an admin (users, keys,
quotas, and the data-administration resources behind `coffer admin`), plus the data health endpoints.

Modules:
  data   The data-administration resources of the admin API (/_coffer/admin/v1/) and data health endpoints.
  front  The admin API: ``/_coffer/admin/v1/<resource>/...``, JSON in and out, SigV4-signed by an admin.
"""

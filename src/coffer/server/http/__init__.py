"""The HTTP side of the server: one serve loop, several fronts (one package per API).

`app.py` holds `FRONTS`, the ordered list of fronts the serve loop (`common.pipeline`) asks in turn
whether they claim a request, and the aiohttp server built around it. Fronts never import each
other (an import-linter independence contract): what they share is in `common/`.

Modules and packages:
  admin    The admin front: `/_coffer/admin/v1/...` (users, keys, quotas, data administration), data health.
  ais      The AIStore front: `/v1/buckets/...`, `/v1/objects/...` (bearer tokens, JSON errors).
  app      FRONTS (health, website Host, AIStore, admin, DS3, batch GET, OpenIO, S3), the main listener's server.
  batch    The batch front: `POST /_coffer/batch/v1/get`, many objects answered as one tar stream.
  common   What every front shares: the serve loop, the front interface, auth, gate, write hook, bodies ...
  console  The web console: a browser UI served by ``coffer serve`` at ``/_coffer/console/``.
  ds3      The DS3 (Spectra S3) front: bulk jobs, blob transfers, DS3 signatures and error documents.
  oio      The OpenIO front: `/_coffer/oio/v1/<operation>` extension endpoints (JSON).
  s3       The S3 front: the endpoint table, the handlers of every S3 operation (the fallback front).
  website  Static website hosting (Host names under --website-domain, and the --website-address listener).
"""

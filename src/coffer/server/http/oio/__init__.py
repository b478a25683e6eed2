"""The OpenIO front: Coffer's OpenIO extension endpoints `/_coffer/oio/v1/<operation>` (JSON in, JSON out),
used by `coffer.compat.oio`.

Modules:
  handlers  Coffer's OpenIO extension endpoints: `/_coffer/oio/v1/<operation>` (JSON in, JSON out).
"""

"""The OpenIO front: Coffer's OpenIO extension endpoints `/_coffer/oio/v1/<operation>` (JSON in, JSON out),
used by `coffer.compat.oio`.

Modules:
  front     The OpenIO front: claims `/_coffer/...`, S3-signed (common.signed), S3 XML errors.
  handlers  Coffer's OpenIO extension endpoints: `/_coffer/oio/v1/<operation>` (JSON in, JSON out).
"""

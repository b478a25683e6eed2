"""OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.

    from coffer.compat.oio import ObjectStorageApi      # was: from oio import ObjectStorageApi

Modules:
  api          OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.
  errors       OpenIO-style exceptions of `coffer.compat.oio`, and the translation of Coffer's errors into them.
  policies     OpenIO's storage policy names and Coffer's, both ways (pure: no I/O).
  maintenance  More of `oio.ObjectStorageApi`: touch, refresh, purge, account delete, storage policy change.
"""
from coffer.compat.oio.api import (
    BadRequest,
    Conflict,
    EtagMismatch,
    Forbidden,
    NoSuchAccount,
    NoSuchContainer,
    NoSuchObject,
    NotFound,
    ObjectStorageApi,
    OioException,
)

__all__ = ["BadRequest", "Conflict", "EtagMismatch", "Forbidden", "NoSuchAccount", "NoSuchContainer", "NoSuchObject",
           "NotFound", "ObjectStorageApi", "OioException"]

"""OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.

    from coffer.compat.oio import ObjectStorageApi      # was: from oio import ObjectStorageApi

Modules:
  api          OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.
  errors       OpenIO-style exceptions of `coffer.compat.oio`, and the translation of Coffer's errors into them.
  maintenance  More of `oio.ObjectStorageApi`: touch, refresh, purge, account delete, storage policy change.
"""
from coffer.compat.oio.api import (
    BadRequest,
    Conflict,
    Forbidden,
    NoSuchAccount,
    NoSuchContainer,
    NoSuchObject,
    NotFound,
    ObjectStorageApi,
    OioException,
)

__all__ = ["BadRequest", "Conflict", "Forbidden", "NoSuchAccount", "NoSuchContainer", "NoSuchObject", "NotFound",
           "ObjectStorageApi", "OioException"]

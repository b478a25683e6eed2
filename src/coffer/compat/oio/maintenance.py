"""More of `oio.ObjectStorageApi`: touch, refresh, purge, account delete, storage policy change.

Owns these methods (mixed into `coffer.compat.oio.ObjectStorageApi`, same signatures as OpenIO's);
each is one call to Coffer's extension endpoints (`/_coffer/oio/v1/...`, served by the server's
`service/compat/oio_maintenance.py`). See docs/openio.md for what each does on Coffer.
"""

from __future__ import annotations

from typing import Any

from coffer.compat.oio.errors import translate
from coffer.compat.oio.policies import to_coffer, to_openio


class MaintenanceMethods:
    """Methods of `ObjectStorageApi` built on `_ext` (defined by the class they are mixed into)."""

    _ext: Any

    @translate
    def account_delete(self, account: str | None = None, **kwargs: Any) -> None:
        """Delete the caller's account (its Coffer user and keys) if it owns no container; else
        `Conflict`. `account` is ignored, as in every method: the credentials name the account."""
        self._ext("POST", "account-delete")

    def account_refresh(self, account: str | None = None, **kwargs: Any) -> None:
        """Recount the usage of every container of the account."""
        for name, *_ in self.container_list(account):  # type: ignore[attr-defined]
            self.container_refresh(account, name)

    @translate
    def container_refresh(self, account: str | None, container: str, attempts: int = 3, **kwargs: Any) -> None:
        """Recount the container's objects and bytes (kept; `container_show` reports them)."""
        self._ext("POST", "container-refresh", {"container": container})

    @translate
    def container_touch(self, account: str | None, container: str, recompute: bool = False, **kwargs: Any) -> None:
        """Refresh the container's statistics; with `recompute`, also count its damaged objects and
        missing chunks (`sys.m2.objects.damaged`, `sys.m2.chunks.missing` in its system properties)."""
        self._ext("POST", "container-refresh", {"container": container, "recompute": bool(recompute)})

    @translate
    def container_purge(self, account: str | None, container: str, maxvers: int | None = None,
                        **kwargs: Any) -> None:
        """Keep the newest `maxvers` versions (delete markers not counted) of every object, delete
        older ones. None: 1 (Coffer has no namespace setting); 0 counts as 1; negative keeps all."""
        self._ext("POST", "container-purge", {"container": container, "maxvers": maxvers})

    @translate
    def object_touch(self, account: str | None, container: str, obj: str, version: str | None = None,
                     **kwargs: Any) -> None:
        """Send the object's notification again, as if it had just been created
        (`s3:ObjectCreated:Touch`)."""
        self._ext("POST", "object-touch", {"container": container, "obj": obj, "versionId": version})

    @translate
    def object_change_policy(self, account: str | None, container: str, obj: str, policy: str,
                             **kwargs: Any) -> tuple[list[dict], int, str, dict]:
        """Store the object's data under `policy` (OpenIO's name or Coffer's), keeping its metadata.
        Returns (chunks, size, hash, meta) as `object_create_ext` does; `Conflict` when it already uses
        that policy."""
        query = {"container": container, "obj": obj, "policy": to_coffer(policy),
                 "versionId": kwargs.get("version")}
        self._ext("POST", "object-policy", query)
        answer = self._ext("GET", "object-locate", {"container": container, "obj": obj})
        meta = answer["meta"]
        meta["policy"] = to_openio(meta.get("policy"))
        return answer["chunks"], meta["length"], meta["hash"], meta

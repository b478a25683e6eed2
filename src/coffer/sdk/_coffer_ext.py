"""Coffer-only operations in the SDK: `client.ext`, `bucket.ext`, `obj.ext` (docs/openio.md).

Owns the SDK face of what Coffer does beyond S3 for the OpenIO features and notifications: account
usage and properties; bucket statistics, properties, snapshots, flush, freeze; object properties
changed in place, truncate, drain, link, locate, head with a trust level; bucket notification
webhooks. They reach Coffer's `/_coffer/oio/v1/` endpoints (and S3's `?notification`), so they work
against Coffer only; on another server they raise `NotImplementedByServer` or `NotFound`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from coffer.protocol import xmlutil
from coffer.sdk import _ext

if TYPE_CHECKING:
    from coffer.sdk._bucket import Bucket
    from coffer.sdk._client import Client
    from coffer.sdk._object import Object

_OIO = "oio/v1/"


def _props_body(set_: Mapping[str, str] | None, delete: Iterable[str] | None, clear: bool) -> dict[str, Any]:
    return {"set": dict(set_ or {}), "delete": list(delete or []), "clear": clear}


class ClientExt:
    def __init__(self, client: Client) -> None:
        self.client = client

    def account(self) -> dict[str, Any]:
        """Usage of the caller's account: containers, objects, bytes, ctime, mtime, metadata."""
        return _ext.call(self.client, "GET", _OIO + "account")

    def set_account_properties(self, set: Mapping[str, str] | None = None, delete: Iterable[str] | None = None,
                               clear: bool = False) -> dict[str, str]:
        answer = _ext.call(self.client, "POST", _OIO + "account-props", body=_props_body(set, delete, clear))
        return answer["properties"]


class BucketExt:
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _call(self, method: str, op: str, query: dict[str, Any] | None = None, body: dict | None = None) -> Any:
        return _ext.call(self.bucket.client, method, _OIO + op, {"container": self.bucket.name, **(query or {})},
                         body)

    def stats(self) -> dict[str, Any]:
        """{"properties": {...}, "system": {"sys.m2.objects", "sys.m2.usage", "sys.status", ...}}."""
        return self._call("GET", "container")

    def set_properties(self, set: Mapping[str, str] | None = None, delete: Iterable[str] | None = None,
                       clear: bool = False) -> dict[str, str]:
        return self._call("POST", "container-props", body=_props_body(set, delete, clear))["properties"]

    def freeze(self, frozen: bool = True) -> None:
        """A frozen bucket refuses every object write and delete (snapshots are born frozen)."""
        self._call("POST", "container-props", body={"system": {"sys.status": "frozen" if frozen else "enabled"}})

    def snapshot(self, name: str) -> Bucket:
        """A new, frozen bucket holding every object of this one, sharing its data (nothing copied)."""
        self._call("POST", "container-snapshot", {"dest": name})
        return self.bucket.client.bucket(name)

    def flush(self) -> int:
        """Delete every object; returns how many."""
        return int(self._call("POST", "container-flush")["deleted"])

    def refresh(self, recompute: bool = False) -> dict[str, Any]:
        """Recount objects and bytes (recompute: also damaged objects and missing chunks)."""
        return self._call("POST", "container-refresh", {"recompute": recompute})

    def purge(self, keep: int | None = None) -> dict[str, int]:
        """Keep the newest `keep` versions of every object (None: 1; negative: all), delete older
        ones; {"deleted", "protected"} (protected: left under retention or legal hold)."""
        return self._call("POST", "container-purge", {"maxvers": keep})

    def set_webhooks(self, webhooks: Iterable[Mapping[str, Any]]) -> None:
        """Bucket notifications to webhooks: each {"url", "events": [...], "id"?, "prefix"?, "suffix"?,
        "secret"?} (the key signing deliveries; generated when absent, see `webhooks()`); an empty
        list removes them (docs/notifications.md)."""
        items: list[tuple[str, Any]] = []
        for w in webhooks:
            body: list[tuple[str, Any]] = [("Id", w.get("id")), ("Url", w["url"])]
            body += [("Event", e) for e in w.get("events", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])]
            rules = [{"Name": n, "Value": w[n]} for n in ("prefix", "suffix") if w.get(n) is not None]
            if rules:
                body.append(("Filter", {"S3Key": {"FilterRule": rules}}))
            if w.get("secret"):
                body.append(("Secret", w["secret"]))
            items.append(("WebhookConfiguration", xmlutil.pairs(*body)))
        doc = xmlutil.to_xml("NotificationConfiguration", xmlutil.pairs(*items))
        self.bucket.client._transport.request("PUT", self.bucket.name, query={"notification": ""}, body=doc)

    def webhooks(self) -> list[dict[str, Any]]:
        """The bucket's notification configurations as {"id", "url", "events", "secret", "prefix"?,
        "suffix"?}."""
        resp = self.bucket.client._transport.request("GET", self.bucket.name, query={"notification": ""})
        out: list[dict[str, Any]] = []
        for el in list(xmlutil.parse(resp.data or b"<NotificationConfiguration/>")):
            target = next((xmlutil.child_text(el, n) for n in ("Url", "Queue", "Topic", "CloudFunction")
                           if xmlutil.child_text(el, n) is not None), "") or ""
            url = target.split(":", 5)[5] if target.startswith("arn:coffer:webhook:") else target
            item: dict[str, Any] = {"id": xmlutil.child_text(el, "Id"), "url": url,
                                    "events": [(e.text or "") for e in xmlutil.children(el, "Event")],
                                    "secret": xmlutil.child_text(el, "Secret")}
            f = xmlutil.find(el, "Filter")
            key = xmlutil.find(f, "S3Key") if f is not None else None
            for rule in xmlutil.children(key, "FilterRule") if key is not None else []:
                item[(xmlutil.child_text(rule, "Name") or "").lower()] = xmlutil.child_text(rule, "Value") or ""
            out.append(item)
        return out


class ObjectExt:
    def __init__(self, obj: Object) -> None:
        self.obj = obj

    def _call(self, method: str, op: str, query: dict[str, Any] | None = None, body: dict | None = None) -> Any:
        q = {"container": self.obj.bucket.name, "obj": self.obj.key, **(query or {})}
        return _ext.call(self.obj.bucket.client, method, _OIO + op, q, body)

    def describe(self) -> dict[str, Any]:
        return self._call("GET", "object")

    def update_properties(self, set: Mapping[str, str] | None = None, delete: Iterable[str] | None = None,
                          clear: bool = False) -> dict[str, str]:
        """Change user metadata in place (no data rewritten, unlike `set_custom_props`)."""
        return self._call("POST", "object-props", body=_props_body(set, delete, clear))["properties"]

    def present(self, trust_level: int = 1) -> bool:
        """0: the metadata exists; 1: enough data to read it; 2: all its data is there."""
        return bool(self._call("GET", "object-head", {"trust_level": trust_level})["exists"])

    def locate(self) -> list[dict[str, Any]]:
        """Where the data is: chunks {pos, offset, size, url, engine, ref} in order."""
        return self._call("GET", "object-locate")["chunks"]

    def truncate(self, size: int) -> dict[str, Any]:
        """Shrink the object to `size` bytes (never grows it)."""
        return self._call("POST", "object-truncate", {"size": size})

    def drain(self) -> None:
        """Drop the data, keep the metadata (reads then fail with InvalidObjectState)."""
        self._call("POST", "object-drain")

    def touch(self, version_id: str | None = None) -> int:
        """Send the object's created-event again (`s3:ObjectCreated:Touch`); returns how many."""
        return int(self._call("POST", "object-touch", {"versionId": version_id})["events"])

    def change_policy(self, policy: str) -> dict[str, Any]:
        """Rewrite the data under storage policy `policy` (SINGLE, REPLICA-N, EC-K+M), metadata kept."""
        return self._call("POST", "object-policy", {"policy": policy})

    def link_to(self, bucket: Bucket | str, key: str | None = None) -> Object:
        """A shallow copy sharing this object's data (survives the original's deletion)."""
        name = bucket if isinstance(bucket, str) else bucket.name
        self._call("POST", "object-link", {"dest_container": name, "dest_obj": key or self.obj.key})
        return self.obj.bucket.client.bucket(name).object(key or self.obj.key)

"""Bucket notifications: the configuration document, event matching and queueing (no HTTP here).

Owns S3's NotificationConfiguration as Coffer stores it (in `bucket.props["notification"]`), with
one Coffer extension: a **webhook** target, written either as a `<WebhookConfiguration>` element
(`<Id>`, `<Url>`, `<Event>`s, `<Filter>`) or, so that unmodified S3 SDKs (boto3 validates the
document's shape client-side) can configure one, as a Queue/Topic/CloudFunction configuration whose
ARN is `arn:coffer:webhook:<region>:<account>:<URL>`. Other ARNs (real SQS/SNS/Lambda) cannot be
delivered by Coffer and are refused the way S3 refuses a destination it cannot validate.

`Notifier.emit` builds S3-format event records (eventVersion 2.1) for the configurations that
match and queues them durably in the metadata store, one row per (event, webhook); the HTTP layer's
delivery loop (`workers/webhooks.py`) sends them with retries. It also hands every event to the
listen API's hub (events/listen.py), which logs it when some live stream may want it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

from coffer.protocol import xmlutil
from coffer.protocol.errors import S3Error, parse_document
from coffer.protocol.timeutil import iso8601
from coffer.server.meta.interface import MetaStore
from coffer.server.meta.model import Bucket
from coffer.server.service.core import Core
from coffer.server.service.events.webhook_security import check_destination, check_secret, networks, new_secret

PROPS_KEY = "notification"
MAX_CONFIGS = 100  # every event is matched against each one: a bound keeps writes cheap
WEBHOOK_ARN = "arn:coffer:webhook:"
_KINDS = {"QueueConfiguration": "Queue", "TopicConfiguration": "Topic",
          "CloudFunctionConfiguration": "CloudFunction", "WebhookConfiguration": "Url"}
EVENTS = frozenset({
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectTagging:*", "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete", "s3:ObjectRestore:*", "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject",
    "s3:Replication:*", "s3:LifecycleExpiration:*", "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:ObjectAcl:Put", "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
})


def _invalid(message: str, name: str = "", value: str = "") -> S3Error:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return S3Error("InvalidArgument", message, **extra)


def webhook_url(kind: str, target: str) -> str | None:
    """The URL a configuration delivers to, or None when Coffer cannot deliver to it."""
    url = target if kind == "Url" else (target.split(":", 5)[5] if target.startswith(WEBHOOK_ARN)
                                        and target.count(":") >= 5 else "")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in url for c in " \r\n\t"):
        return None
    return url


def parse_config(body: bytes) -> list[dict[str, Any]]:
    """A NotificationConfiguration document -> the stored list of configurations (validated)."""
    if not body.strip():
        return []
    root = parse_document(body, "NotificationConfiguration")
    out: list[dict[str, Any]] = []
    ids: set[str] = set()
    for el in list(root):
        name = xmlutil.local_name(el)
        if name == "EventBridgeConfiguration":
            raise _invalid("EventBridge destinations are not supported by Coffer.", "EventBridgeConfiguration", "")
        kind = _KINDS.get(name)
        if len(out) >= MAX_CONFIGS:
            raise _invalid(f"At most {MAX_CONFIGS} notification configurations per bucket.", name, "")
        if kind is None:
            raise S3Error("MalformedXML", f"Unknown element {name} in NotificationConfiguration.")
        target = (xmlutil.child_text(el, kind) or "").strip()
        if webhook_url(kind, target) is None:
            raise _invalid("Unable to validate the following destination configurations", target or kind, target)
        events = [(e.text or "").strip() for e in xmlutil.children(el, "Event")]
        if not events:
            raise _invalid("At least one event is required.", "Event", "")
        for ev in events:
            if ev not in EVENTS:
                raise _invalid("The event is not supported for notifications", ev, ev)
        cid = (xmlutil.child_text(el, "Id") or "").strip() or f"coffer-{len(out) + 1}"
        if cid in ids:
            raise _invalid("Configuration Id must be unique.", "Id", cid)
        ids.add(cid)
        conf = {"id": cid, "kind": kind, "target": target, "events": events, "filter": _filter(el)}
        secret = xmlutil.child_text(el, "Secret")
        if secret is not None:
            check_secret(secret)
            conf["secret"] = secret
        out.append(conf)
    return out


def _filter(el: Any) -> list[list[str]]:
    f = xmlutil.find(el, "Filter")
    if f is None:
        return []
    key = xmlutil.find(f, "S3Key")
    rules: list[list[str]] = []
    for rule in xmlutil.children(key, "FilterRule") if key is not None else []:
        name = (xmlutil.child_text(rule, "Name") or "").strip().lower()
        value = xmlutil.child_text(rule, "Value") or ""
        if name not in ("prefix", "suffix"):
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule", name)
        if any(r[0] == name for r in rules):
            raise _invalid("Cannot specify more than one prefix rule in a filter." if name == "prefix"
                           else "Cannot specify more than one suffix rule in a filter.", "FilterRule", name)
        rules.append([name, value])
    return rules


def render_config(configs: list[dict[str, Any]]) -> bytes:
    items: list[tuple[str, Any]] = []
    for c in configs:
        el = "WebhookConfiguration" if c["kind"] == "Url" else f"{c['kind']}Configuration"
        body: list[tuple[str, Any]] = [("Id", c["id"]), (c["kind"], c["target"])]
        body += [("Event", e) for e in c["events"]]
        if c["filter"]:
            body.append(("Filter", {"S3Key": {"FilterRule": [{"Name": n, "Value": v} for n, v in c["filter"]]}}))
        if c.get("secret"):  # the signing key of its deliveries (S3 SDKs ignore the unknown element)
            body.append(("Secret", c["secret"]))
        items.append((el, xmlutil.pairs(*body)))
    return xmlutil.to_xml("NotificationConfiguration", xmlutil.pairs(*items))


def matches(config: dict[str, Any], event: str, key: str) -> bool:
    family = event.rsplit(":", 1)[0] + ":*"
    if not any(e in (event, family) for e in config["events"]):
        return False
    for name, value in config["filter"]:
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


@dataclass(slots=True)
class ObjectEvent:
    name: str  # e.g. "s3:ObjectCreated:Put"
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None


class Notifier:
    def __init__(self, core: Core, listen: Any = None) -> None:
        self.core = core
        self.listen = listen  # the listen API's hub (events/listen.py), or None: no live streams
        self.queued = 0  # events queued by this process; the delivery loop wakes when it moves
        self.listeners: list[Any] = []  # callables run after a commit (wake the delivery loop)

    async def set_config(self, bucket: Bucket, body: bytes) -> None:
        """Validate and store; every destination must be in the allowed networks, and each
        configuration gets its signing secret (kept from the stored one with the same Id and URL)."""
        configs = parse_config(body)
        nets = networks(self.core.limits.webhook_allow)
        old = {(c["id"], c["target"]): c.get("secret") for c in bucket.props.get(PROPS_KEY) or []}
        for c in configs:
            url = webhook_url(c["kind"], c["target"])
            assert url is not None  # parse_config refused the others
            await check_destination(url, nets)
            c.setdefault("secret", old.get((c["id"], c["target"])) or new_secret())
        props = dict(bucket.props)
        if configs:
            props[PROPS_KEY] = configs
        else:
            props.pop(PROPS_KEY, None)
        await self.core.meta.update_bucket_props(bucket.name, props)

    def interested(self, bucket: Bucket) -> bool:
        """Does a write to `bucket` owe events: a notification configuration, or a live listen stream."""
        return bool(bucket.props.get(PROPS_KEY)) or (self.listen is not None and self.listen.wanted(bucket.name))

    @staticmethod
    def get_config(bucket: Bucket) -> bytes:
        return render_config(bucket.props.get(PROPS_KEY) or [])

    async def emit(self, bucket: Bucket, events: list[ObjectEvent], principal: str, request_id: str,
                   source_ip: str = "", replaces: int | None = None) -> int:
        """Queue the records of `events` for every matching webhook (and drop intent row `replaces`
        in the same transaction); returns how many were queued."""
        items = build(self.core.region, bucket, events, principal, request_id, source_ip)
        if items or replaces is not None:
            # Replacing an intent need not be fsynced on its own: if a crash loses it, the intent
            # (made durable by the object's own commit) is still there and is resolved at start-up.
            await self.core.meta.enqueue_events(items, replaces, durable=replaces is None)
        if items:
            self.queued += len(items)
            for fn in self.listeners:
                fn()
        if self.listen is not None:
            await self.listen.record(bucket, events, principal, request_id, source_ip)
        return len(items)

    async def intend(self, bucket: Bucket, event: str, key: str, principal: str, request_id: str,
                     source_ip: str = "", keys: list[str] | None = None, version: str | None = None) -> int | None:
        """Before a write that may produce `event` on `key` (or on each of `keys`: a multi-object
        delete or copy; or on version `version` of `key`) runs: a held row saying so, which the events
        replace once the write succeeded. Returns its id, or None when no webhook would care."""
        configs = bucket.props.get(PROPS_KEY) or []
        family = event.split(":")[1] if event.count(":") >= 2 else ""
        if not any(any(e.split(":")[1:2] == [family] for e in c["events"]) for c in configs):
            return None
        intent: dict[str, Any] = {"bucket": bucket.name, "event": event, "key": key, "principal": principal,
                                  "request_id": request_id, "source_ip": source_ip, "time": time.time()}
        if keys is not None:
            intent["keys"] = keys
        if version is not None:
            intent["version"] = version
        # Not fsynced by itself: the write it announces commits after it, in the same WAL, and that
        # durable commit makes the intent durable too. A crash before that loses both: no event owed.
        (hold,) = await self.core.meta.enqueue_events([("", intent)], durable=False)
        return hold

    async def cancel(self, hold: int) -> None:
        await self.core.meta.enqueue_events([], hold, durable=False)


def build(region: str, bucket: Bucket, events: list[ObjectEvent], principal: str, request_id: str,
          source_ip: str) -> list[tuple[str, dict]]:
    """(URL, event document) for every configuration of `bucket` each event matches."""
    configs = bucket.props.get(PROPS_KEY) or []
    items: list[tuple[str, dict]] = []
    now = time.time()
    for i, ev in enumerate(events):
        for c in configs:
            url = webhook_url(c["kind"], c["target"])
            if url is None or not matches(c, ev.name, ev.key):
                continue
            items.append((url, {"Records": [event_record(region, bucket, c["id"], ev, principal, request_id,
                                                     source_ip, now, i)]}))
    return items


async def recover_held(meta: MetaStore, region: str, older_than: float | None = None) -> int:
    """Resolve the intents a crash left, by looking at the object: a created-event intent becomes
    its event if the object exists and was written at or after the intent; a removed-event intent if
    the object is absent. Returns how many events were queued.

    At start-up (no worker running) every intent is resolved. While workers run (a worker died and
    was replaced), only intents older than `older_than` seconds: a request still running past that
    is harmless, since its own events are queued whether or not its intent is still there."""
    queued = 0
    cutoff = None if older_than is None else time.time() - older_than
    for hold, intent in await meta.held_events():
        if cutoff is not None and intent.get("time", 0.0) > cutoff:
            continue
        items: list[tuple[str, dict]] = []
        bucket = await meta.get_bucket(intent.get("bucket", ""))
        if bucket is not None:
            events = [ev for k in intent.get("keys") or [intent["key"]]
                      if (ev := await _resolve(meta, bucket.name, intent, k)) is not None]
            items = build(region, bucket, events, intent["principal"], intent["request_id"], intent["source_ip"])
        queued += len(await meta.enqueue_events(items, hold, only_if_held=True))
    return queued


def marker_event(event: str) -> str:
    """The delete-marker flavour of a removal event (s3:ObjectRemoved:Delete ->
    s3:ObjectRemoved:DeleteMarkerCreated, s3:LifecycleExpiration:Delete -> ...DeleteMarkerCreated)."""
    return event.rsplit(":", 1)[0] + ":DeleteMarkerCreated"


async def _resolve(meta: MetaStore, bucket: str, intent: dict[str, Any], key: str) -> ObjectEvent | None:
    """The event an intent owes for `key`, judged from what the store holds now."""
    # 1 s of slack: the object's time and the intent's come from the same clock, but the record's
    # time is taken a moment after the intent's on another code path
    since = intent["time"] - 1.0
    event = intent["event"]
    version = intent.get("version")
    if event.startswith("s3:ObjectCreated:"):
        rec = await meta.get_object(bucket, key)
        if rec is not None and rec.last_modified >= since:
            return ObjectEvent(event, rec.key, rec.size, rec.etag, rec.version_id)
        return None
    if version is not None:  # one version removed for good
        return ObjectEvent(event, key, version_id=version) if await meta.get_version(bucket, key, version) is None \
            else None
    if await meta.get_object(bucket, key) is not None:
        return None
    # absent: in a versioned bucket the delete may have made a delete marker, which S3 names differently
    marker = await meta.latest_marker(bucket, key)
    if marker is not None and marker.last_modified >= since:
        return ObjectEvent(marker_event(event), key, version_id=marker.version_id or "null")
    return ObjectEvent(event, key)


def event_record(region: str, bucket: Bucket, config_id: str, ev: ObjectEvent, principal: str, request_id: str,
            source_ip: str, now: float, i: int) -> dict:
    obj: dict[str, Any] = {"key": quote_plus(ev.key, safe="/"), "sequencer": f"{time.time_ns() + i:X}"}
    if ev.size is not None:
        obj["size"] = ev.size
    if ev.etag is not None:
        obj["eTag"] = ev.etag
    if ev.version_id is not None:
        obj["versionId"] = ev.version_id
    return {
        "eventVersion": "2.1", "eventSource": "coffer:s3", "awsRegion": region,
        "eventTime": iso8601(now), "eventName": ev.name.removeprefix("s3:"),
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": config_id,
            "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": bucket.owner},
                       "arn": f"arn:aws:s3:::{bucket.name}"},
            "object": obj,
        },
    }

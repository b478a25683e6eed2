"""DS3 (Spectra S3) management calls the SDK's helpers and tests use, answered from Coffer's own state:

- `put_bucket_spectra_s3` (`PUT /_rest_/bucket?name=B[&data_policy_id=P]`): a bucket under DS3's naming
  rules whose default storage policy is the data policy (a data policy id is a storage policy name:
  SINGLE, REPLICA-N, EC-K+M); `delete_bucket_spectra_s3` (`DELETE /_rest_/bucket/B[?force]`): force
  deletes the objects too.
- data policies (`GET /_rest_/data_policy[/ID]`): the storage policies this server can write, and those its
  users made (`POST /_rest_/data_policy?name=N[&storage_policy=P]`, `PUT|DELETE /_rest_/data_policy/ID`:
  service/compat/ds3_data_policies.py maps each onto a storage policy).
- `get_object_details` (`GET /_rest_/object/NAME?bucket_id=B`), `get_system_information`,
  `verify_system_health`, `get_system_capacity_summary` and physical placement
  (`PUT /_rest_/bucket/B?operation=get_physical_placement`: the volumes holding each object).
"""

from __future__ import annotations

import time
from xml.sax.saxutils import escape as _esc

from aiohttp import web

import coffer
from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import iso8601
from coffer.server.http.ds3 import documents as ds3_xml
from coffer.server.http.ds3.request import Ds3Request
from coffer.server.meta.model import Bucket
from coffer.server.service.compat.ds3_data_policies import BUCKET_PROP as BUCKET_DATA_POLICY
from coffer.server.service.compat.ds3_data_policies import SETTINGS
from coffer.server.service.storage import policies as storage

XML = "application/xml"


def _xml(doc: str, status: int = 200) -> web.Response:
    return web.Response(body=(ds3_xml.DECL + doc).encode(), status=status, content_type=XML)


def _policy_names(r: Ds3Request) -> list[str]:
    """The storage policies this server can write (a data policy per name)."""
    n = r.svc.core.data.volume_count()
    names = ["SINGLE"] + [f"REPLICA-{k}" for k in (2, 3) if k <= n]
    names += [f"EC-{k}+{m}" for k, m in ((2, 1), (4, 2), (6, 3), (8, 4)) if k + m <= n]
    return names


def _bucket_doc(b: Bucket) -> str:
    policy = b.props.get(BUCKET_DATA_POLICY) or b.props.get(storage.BUCKET_PROP) or "coffer-default"
    return (f"<Data><CreationDate>{iso8601(b.created)}</CreationDate><DataPolicyId>{_esc(policy)}</DataPolicyId>"
            f"<Empty/><Id>{_esc(b.name)}</Id><LastPreferredChunkSizeInBytes/><LogicalUsedCapacity/>"
            f"<Name>{_esc(b.name)}</Name><UserId>{_esc(b.owner)}</UserId></Data>")


async def put_bucket(r: Ds3Request, _ident: str) -> web.StreamResponse:
    name = r.query.get("name", "")
    if not name:
        raise S3Error("InvalidArgument", "put_bucket_spectra_s3 needs a name.", status=400)
    props: dict = {}
    policy_id = r.query.get("data_policy_id")
    made = await r.svc.ds3_policies.find(r.who, policy_id) if policy_id else None
    if made is not None:  # one of the user's own data policies
        storage.checked(r.svc.core.data, made["storage_policy"])  # still writable here
        props[storage.BUCKET_PROP] = made["storage_policy"]
        props[BUCKET_DATA_POLICY] = made["id"]
    elif policy_id:
        policy = storage.checked(r.svc.core.data, policy_id)
        if policy is not None:
            props[storage.BUCKET_PROP] = policy.name
    b = await r.svc.buckets.create(r.who, name, None, props, ds3_names=True)
    return _xml(_bucket_doc(b), 201)


async def delete_bucket(r: Ds3Request, name: str) -> web.StreamResponse:
    if "force" in r.query:
        await r.svc.ais.destroy_bucket(r.who, name)  # the objects with it
    else:
        await r.svc.buckets.delete(r.who, name)
    return web.Response(status=204)


def _policy_doc(r: Ds3Request, name: str, made: dict | None = None) -> str:
    """A DataPolicy document: a built-in one (a storage policy) or one a user made (`made`), with
    Coffer's <StoragePolicy> naming what it maps onto."""
    m = made or {}
    ident, storage_policy = (m["id"], m["storage_policy"]) if made else (name, name)
    created = f"<CreationDate>{iso8601(m['created'])}</CreationDate>" if made else ""
    return (f"<Data><BlobbingEnabled>{_esc(m.get('blobbing_enabled', 'true'))}</BlobbingEnabled>"
            f"<ChecksumType>{_esc(m.get('checksum_type', 'MD5'))}</ChecksumType>{created}"
            f"<DefaultBlobSize>{_esc(str(m.get('default_blob_size', r.cfg.limits.bulk_blob_size)))}</DefaultBlobSize>"
            f"<EndToEndCrcRequired>{_esc(m.get('end_to_end_crc_required', 'false'))}</EndToEndCrcRequired>"
            f"<Id>{_esc(ident)}</Id><Name>{_esc(name)}</Name><StoragePolicy>{_esc(storage_policy)}</StoragePolicy>"
            f"<Versioning>{_esc(m.get('versioning', 'NONE'))}</Versioning></Data>")


def _settings(r: Ds3Request) -> dict[str, str]:
    return {k: v for k, v in r.query.items() if k in SETTINGS}


async def get_data_policy(r: Ds3Request, ident: str) -> web.StreamResponse:
    made = await r.svc.ds3_policies.find(r.who, ident)
    if made is not None:
        return _xml(_policy_doc(r, made["name"], made))
    if ident != "coffer-default" and ident not in _policy_names(r):
        raise S3Error("NotFound", f"There is no data policy {ident}.", status=404)
    return _xml(_policy_doc(r, ident))


async def list_data_policies(r: Ds3Request, _ident: str) -> web.StreamResponse:
    docs = [_policy_doc(r, n) for n in _policy_names(r)]
    docs += [_policy_doc(r, p["name"], p) for p in await r.svc.ds3_policies.list(r.who)]
    inner = "".join(d.replace("<Data>", "<DataPolicy>").replace("</Data>", "</DataPolicy>") for d in docs)
    return _xml(f"<Data>{inner}</Data>")


async def put_data_policy(r: Ds3Request, _ident: str) -> web.StreamResponse:
    made = await r.svc.ds3_policies.create(r.who, r.query.get("name", ""), r.query.get("storage_policy"),
                                           _settings(r))
    return _xml(_policy_doc(r, made["name"], made), 201)


async def modify_data_policy(r: Ds3Request, ident: str) -> web.StreamResponse:
    if ident in _policy_names(r) or ident == "coffer-default":
        raise S3Error("Forbidden", f"The data policy {ident} is built in: it cannot be changed.", status=403)
    made = await r.svc.ds3_policies.modify(r.who, ident, r.query.get("name"), r.query.get("storage_policy"),
                                           _settings(r))
    return _xml(_policy_doc(r, made["name"], made))


async def delete_data_policy(r: Ds3Request, ident: str) -> web.StreamResponse:
    if ident in _policy_names(r) or ident == "coffer-default":
        raise S3Error("Forbidden", f"The data policy {ident} is built in: it cannot be deleted.", status=403)
    await r.svc.ds3_policies.delete(r.who, ident)
    return web.Response(status=204)


async def object_details(r: Ds3Request, name: str) -> web.StreamResponse:
    bucket = r.query.get("bucket_id", "")
    rec = await r.svc.objects.get(r.who, bucket, name)
    return _xml(f"<Data><BucketId>{_esc(bucket)}</BucketId><CreationDate>{iso8601(rec.last_modified)}</CreationDate>"
                f"<Id>{_esc(rec.version_id or name)}</Id><Latest>true</Latest><Name>{_esc(name)}</Name>"
                f"<Owner>{_esc(rec.owner)}</Owner><Size>{rec.size}</Size><Type>DATA</Type><Version>1</Version>"
                "</Data>")


async def system_information(r: Ds3Request, _ident: str) -> web.StreamResponse:
    return _xml(f"<Data><ApiVersion>5.0</ApiVersion><BuildInformation><Branch>coffer</Branch><Revision/>"
                f"<Version>{coffer.__version__}</Version></BuildInformation><InstanceId>coffer</InstanceId>"
                f"<Now>{iso8601(time.time())}</Now><SerialNumber>coffer</SerialNumber></Data>")


async def system_health(r: Ds3Request, _ident: str) -> web.StreamResponse:
    start = time.monotonic()
    await r.svc.core.meta.get_bucket("")  # one metadata read: the planner's health here
    ms = int((time.monotonic() - start) * 1000)
    return _xml(f"<Data><MsRequiredToVerifyDataPlannerHealth>{ms}</MsRequiredToVerifyDataPlannerHealth></Data>")


async def capacity_summary(r: Ds3Request, _ident: str) -> web.StreamResponse:
    used = 0
    for b in await r.svc.core.meta.list_buckets(None if r.who.admin else r.who.user_id):
        used += (await r.svc.core.meta.count_objects(b.name))[1]
    import shutil

    disk = shutil.disk_usage(r.svc.core.data.root)
    pool = (f"<PhysicalAllocated>{disk.total}</PhysicalAllocated><PhysicalAvailable>{disk.free}</PhysicalAvailable>"
            f"<PhysicalFree>{disk.free}</PhysicalFree><PhysicalUsed>{used}</PhysicalUsed>")
    return _xml(f"<Data><Pool>{pool}</Pool><Tape><PhysicalAllocated>0</PhysicalAllocated><PhysicalAvailable>0"
                "</PhysicalAvailable><PhysicalFree>0</PhysicalFree><PhysicalUsed>0</PhysicalUsed></Tape></Data>")


async def physical_placement(r: Ds3Request, bucket: str, names: list[str]) -> web.StreamResponse:
    """Pools: the volumes (and nodes) that hold any of the objects' data; Tapes: none."""
    places: dict[str, str] = {}
    for name in names:
        _doc, chunks = await r.svc.oio.object_locate(r.who, bucket, name)
        for c in chunks:
            url = str(c.get("url", ""))
            places.setdefault(url.rsplit("/", 1)[0] if url.count("/") > 3 else url, url)
    pools = "".join(f"<Pool><Id>{_esc(p)}</Id><Name>{_esc(p)}</Name><Type>ONLINE</Type></Pool>" for p in sorted(places))
    return _xml(f"<Data><AzureTargets/><Ds3Targets/><Pools>{pools}</Pools><S3Targets/><Tapes/></Data>")

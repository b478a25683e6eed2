"""WORM through direct calls into the service layer (no HTTP): every delete path of the service
refuses a protected version, and the lifecycle worker's pass (run directly, with the clock moved
forward) never deletes one. Also: the versions model of the metadata store against a plain Python
model of S3 versioning, with hypothesis-generated operation sequences.

Real SQLite metadata and real data files in a temporary folder; no mocks.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_env import ROOT, Env, put, run

from coffer.protocol.errors import S3Error
from coffer.server.service.worm.retention import LockRequest
from coffer.server.service.worm.rule import why_locked


def test_why_locked_rules():
    now = 1000.0
    assert why_locked({}, now) is None
    assert why_locked({"legal_hold": True}, now)
    assert why_locked({"legal_hold": False}, now) is None
    gov = {"retention": {"mode": "GOVERNANCE", "until": now + 1}}
    assert why_locked(gov, now) and why_locked(gov, now, bypass_governance=True) is None
    comp = {"retention": {"mode": "COMPLIANCE", "until": now + 1}}
    assert why_locked(comp, now, bypass_governance=True)
    assert why_locked({"retention": {"mode": "COMPLIANCE", "until": now}}, now) is None  # expired
    assert why_locked({"ibm": {"period": -1, "until": None, "holds": []}}, now)
    assert why_locked({"ibm": {"period": 5, "until": now - 1, "holds": [{"id": "h", "date": 0}]}}, now)
    assert why_locked({"ibm": {"period": 5, "until": now - 1, "holds": []}}, now) is None


def test_service_delete_paths_refuse_locked(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "lockb", None, {"versioning": "Enabled", "object_lock": {"enabled": True}})
            until = time.time() + 3600
            v = await put(svc, "lockb", "k", b"x" * 200_000, LockRequest(mode="COMPLIANCE", until=until))
            for call in (
                svc.objects.delete(ROOT, "lockb", "k", version_id=v),
                svc.objects.delete(ROOT, "lockb", "k", version_id=v, bypass_governance=True),
                svc.versioning.delete_many(ROOT, "lockb", [("k", v)], True),
            ):
                try:
                    out = await call
                except S3Error as e:
                    assert e.code == "AccessDenied"
                else:
                    assert isinstance(out, list) and isinstance(out[0], S3Error) and out[0].code == "AccessDenied"
            with pytest.raises(S3Error) as ei:
                await svc.buckets.delete(ROOT, "lockb")
            assert ei.value.code == "BucketNotEmpty"
            rec = await svc.objects.get(ROOT, "lockb", "k", version_id=v)
            assert rec.size == 200_000 and all(Path(s.path).exists() for s in svc.objects.spans(rec, 0, rec.size))

    run(go())


def test_protected_unversioned_object_refuses_overwrite_and_batch_delete(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "ibmb", None)
            await svc.ibm.put_protection(ROOT, "ibmb", "Retention", 0, 1, 10, False)
            await put(svc, "ibmb", "rec", b"record")
            await put(svc, "ibmb", "free", b"f", LockRequest(ibm_period=0))
            with pytest.raises(S3Error) as ei:
                await put(svc, "ibmb", "rec", b"overwrite")
            assert ei.value.code == "AccessDenied"
            with pytest.raises(S3Error):  # one transaction: the protected key refuses the batch
                await svc.objects.delete_many(ROOT, "ibmb", ["free", "rec"])
            assert (await svc.objects.get(ROOT, "ibmb", "free")).size == 1
            with pytest.raises(S3Error):
                await svc.objects.copy(ROOT, "ibmb", "free", "ibmb", "rec", cond=_no_cond(), replace=None,
                                       storage_class=None)
            assert (await svc.objects.get(ROOT, "ibmb", "rec")).inline == b"record"

    run(go())


def _no_cond():
    from coffer.server.service import ReadConditions

    return ReadConditions(None, None, None, None)


def test_lifecycle_pass_skips_locked(tmp_path):
    async def go():
        async with Env(tmp_path) as svc:
            await svc.buckets.create(ROOT, "lcb", None, {"versioning": "Enabled", "object_lock": {"enabled": True}})
            far = time.time() + 365 * 86400
            locked = await put(svc, "lcb", "a", b"1", LockRequest(mode="GOVERNANCE", until=far))
            await put(svc, "lcb", "a", b"2")
            old = await put(svc, "lcb", "b", b"1")
            await put(svc, "lcb", "b", b"2")
            await svc.lifecycle.put(ROOT, "lcb", [{"id": "r", "status": "Enabled", "filter": {"prefix": ""},
                                                    "noncurrent": {"days": 1, "newer": None}}])
            n = await svc.lifecycle.run_pass(86400, now=time.time() + 10 * 86400)
            assert n == 1  # b's old version only
            assert (await svc.objects.get(ROOT, "lcb", "a", version_id=locked)).inline == b"1"
            with pytest.raises(S3Error):
                await svc.objects.get(ROOT, "lcb", "b", version_id=old)

    run(go())


# -- the versions model --------------------------------------------------------------------------

OPS = st.lists(st.tuples(st.sampled_from(["put", "delete", "delete_version", "suspend", "enable"]),
                         st.sampled_from(["k1", "k2"]), st.integers(0, 5)), max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_versions_match_model(tmp_path_factory, ops):
    """S3's versioning rules in a few lines of Python: per key a list of (version id, is marker,
    payload), newest last; the store must list the same versions and serve the same current one."""
    tmp = tmp_path_factory.mktemp("model")

    async def go():
        async with Env(tmp) as svc:
            await svc.buckets.create(ROOT, "model", None)
            model: dict[str, list[tuple[str, bool, bytes]]] = {"k1": [], "k2": []}
            state = None
            for op, key, n in ops:
                versions = model[key]
                if op == "enable":
                    await svc.versioning.put(ROOT, "model", "Enabled")
                    state = "Enabled"
                elif op == "suspend":
                    await svc.versioning.put(ROOT, "model", "Suspended")
                    state = "Suspended"  # S3 keeps Suspended even on a never-versioned bucket
                elif op == "put":
                    data = f"{key}-{n}-{len(versions)}".encode()
                    vid = await put(svc, "model", key, data) or "null"
                    if state != "Enabled":
                        versions[:] = [v for v in versions if v[0] != "null"]
                    versions.append((vid, False, data))
                elif op == "delete":
                    out = await svc.objects.delete(ROOT, "model", key)
                    if state is None:
                        versions.clear()
                    else:
                        if state == "Suspended":
                            versions[:] = [v for v in versions if v[0] != "null"]
                        versions.append((out.version_id or "null", True, b""))
                elif op == "delete_version" and versions:
                    vid = versions[n % len(versions)][0]
                    await svc.objects.delete(ROOT, "model", key, version_id=vid)
                    versions[:] = [v for v in versions if v[0] != vid]
            page = await svc.versioning.list(ROOT, "model", "", None, None, None, 1000)
            for key in ("k1", "k2"):
                got = [(e.record.version_id or "null", e.record.delete_marker) for e in page.entries
                       if e.record.key == key]
                assert got == [(v[0], v[1]) for v in reversed(model[key])]
                latest = model[key][-1] if model[key] else None
                if latest is None or latest[1]:
                    with pytest.raises(S3Error):
                        await svc.objects.get(ROOT, "model", key)
                else:
                    assert (await svc.objects.get(ROOT, "model", key)).inline == latest[2]

    run(go())

"""Erasure-coded (and replicated) object segments over several volumes: write, read, repair.

Owns the striping of a segment's bytes and the three operations on it:

* ``StripeWriter``: takes bytes in pieces of any size, cuts them into fixed blocks (1 MiB by
  default), encodes each block into ``k + m`` payloads (pyeclib ``isa_l_rs_cauchy`` for EC; the block
  itself for SINGLE and REPLICA-N) and appends record ``s`` of fragment ``i`` to a temporary file on
  the ``i``-th volume of the ref's placement. ``commit()`` writes each header, then follows the data
  store's crash-safe protocol per file: fdatasync -> rename into place -> fsync the directory.
* ``ObjectReader``: finds the fragments (any volume: headers name their index), reads only the
  stripes a byte range covers, verifies every record's CRC32C, and decodes from whichever ``k``
  fragments are good for each stripe. A bad or unreadable record is a missing fragment for that
  stripe only; each one goes into ``damage`` so the caller can queue a repair.
* ``repair(ref)``: verifies every fragment end to end and rebuilds the missing or damaged ones,
  stripe by stripe, onto their volume (atomic replace) or onto a replacement volume.

Memory: one stripe at a time, whatever the object size. Synchronous, CPU- and disk-bound: the server
calls it from worker threads. A volume failing during a write is demoted (volumes.py) and its fragment
dropped; the write goes on while the policy's write quorum holds (else ``PolicyUnavailable``).
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from coffer.server.data.volumes.bitrot import (
    Damage,
    FragmentFormatError,
    FragmentHeader,
    FragmentLocation,
    OpenFragment,
    close_handle,
    open_sinks,
    read_header,
    read_record,
    verify_file,
)
from coffer.server.data.volumes.storage_policy import Policy, codec_for
from coffer.server.data.volumes.volume import Volume, VolumeSet

DEFAULT_BLOCK_SIZE = 1 << 20
_REF = re.compile(r"[0-9a-f]{32}")


class ECError(Exception):
    """Base of the engine's errors."""


class PolicyUnavailable(ECError):
    """Not enough writable volumes left to store an object under its policy."""


class NotEnoughFragments(ECError):
    """More fragments lost than the policy tolerates: these bytes cannot be served."""


class ObjectNotFound(NotEnoughFragments):
    """No fragment of the ref on any readable volume (never written, deleted, or every one lost)."""


@dataclass(slots=True)
class WriteResult:
    ref: str
    size: int
    policy: Policy
    fragments: list[FragmentLocation]
    missing: list[int]  # fragment indices not written: the caller queues a repair


@dataclass(slots=True)
class RepairResult:
    ref: str
    rebuilt: list[FragmentLocation] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # damaged copies deleted after the rebuild
    unrepaired: list[int] = field(default_factory=list)  # no writable volume to put them on
    damage: list[Damage] = field(default_factory=list)  # what was wrong before the repair


class StripeWriter:
    """Write one segment under a policy; ``write`` any number of times, then ``commit`` or ``abort``."""

    def __init__(self, volumes: VolumeSet, policy: Policy, *, ref: str | None = None,
                 block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        if ref is not None and not _REF.fullmatch(ref):
            raise ValueError(f"bad ref {ref!r}")
        if not 0 < block_size < (1 << 31):
            raise ValueError("block size must be positive and below 2 GiB")
        if ref is not None and volumes.find_fragments(ref):
            # A ref names one immutable content: fragments of two writes under one ref could be
            # mixed by a reader (same header, valid CRCs, different bytes). Refuse, never overwrite.
            raise ValueError(f"ref {ref} already has fragments")
        self.ref = ref or secrets.token_hex(16)
        self.policy = policy
        self.block_size = block_size
        self.size = 0
        self._codec = codec_for(policy)
        self._buf = bytearray()
        self._stripes = 0
        self._record_size = 0
        self._last_record_size = 0
        cap = volumes.domain_cap(policy.m)
        ranked = volumes.writable_ranked(self.ref, cap)
        if len(ranked) < policy.write_quorum:
            raise PolicyUnavailable(
                f"{policy} needs {policy.write_quorum} writable volumes"
                + (f" (at most {cap} per failure domain)" if cap else "") + f", {len(ranked)} available")
        width = policy.width
        self._sinks = open_sinks(list(enumerate(ranked[:width])), ranked[width:], self.ref, cap=cap)
        self._check_quorum()

    def _check_quorum(self) -> None:
        if len(self._sinks) < self.policy.write_quorum:
            self.abort()
            raise PolicyUnavailable(
                f"{self.policy}: only {len(self._sinks)} fragments writable, {self.policy.write_quorum} needed")

    def _drop(self, index: int, exc: OSError) -> None:
        sink = self._sinks.pop(index)
        sink.volume.fail(exc)
        sink.discard()

    @property
    def fragments(self) -> list[tuple[int, str]]:
        """(index, volume uuid) of the fragments still being written."""
        return [(i, s.volume.uuid) for i, s in sorted(self._sinks.items())]

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        self.size += len(view)
        while view:
            room = self.block_size - len(self._buf)
            self._buf += view[:room]
            view = view[room:]
            if len(self._buf) == self.block_size:
                self._flush()

    def _flush(self) -> None:
        payloads = self._codec.encode(bytes(self._buf))
        self._buf.clear()
        for index in list(self._sinks):
            try:
                self._sinks[index].append(self._stripes, payloads[index])
            except OSError as exc:
                self._drop(index, exc)
        self._check_quorum()
        if self._stripes == 0:
            self._record_size = len(payloads[0])
        self._last_record_size = len(payloads[0])
        self._stripes += 1

    def commit(self) -> WriteResult:
        if self._buf:
            self._flush()
        done: list[FragmentLocation] = []
        vols: dict[int, Volume] = {}
        headers = {index: FragmentHeader(self.ref, self.policy, index, self.block_size, self.size,
                                         self._record_size, self._last_record_size) for index in self._sinks}
        for index in sorted(self._sinks):
            try:
                self._sinks[index].seal(headers[index])  # remote sinks: every node syncs at once
            except OSError as exc:
                self._drop(index, exc)
        for index in sorted(self._sinks):
            sink = self._sinks[index]
            try:
                path = sink.finish(headers[index])
            except OSError as exc:
                self._drop(index, exc)
                continue
            done.append(FragmentLocation(index, sink.volume.uuid, str(path)))
            vols[index] = sink.volume
        if len(done) < self.policy.write_quorum:
            self.abort()
            for loc in done:  # never acknowledged: remove them (what remains is the orphan sweep's job)
                _unlink_on(vols[loc.index], loc.path)
            raise PolicyUnavailable(f"{self.policy}: only {len(done)} fragments made durable")
        self._sinks.clear()
        got = {f.index for f in done}
        return WriteResult(self.ref, self.size, self.policy, done,
                           [i for i in range(self.policy.width) if i not in got])

    def abort(self) -> None:
        for sink in self._sinks.values():
            sink.discard()
        self._sinks.clear()


def write_object(volumes: VolumeSet, policy: Policy, data: bytes, **kw: object) -> WriteResult:
    """Convenience for small segments and tests: one write, one commit."""
    writer = StripeWriter(volumes, policy, **kw)  # type: ignore[arg-type]
    try:
        writer.write(data)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


class ObjectReader:
    """Reads one segment from its fragments; collects ``damage`` along the way. Close it (or use ``with``)."""

    def __init__(self, volumes: VolumeSet, ref: str) -> None:
        if not _REF.fullmatch(ref):
            raise ValueError(f"bad ref {ref!r}")  # it becomes a path: never let "../" through
        self.ref = ref
        self.damage: list[Damage] = []
        self.sources: dict[int, list[OpenFragment]] = {}  # by fragment index, placement order
        candidates: list[OpenFragment] = []
        try:
            self._open(volumes, candidates)
        except BaseException:
            for src in candidates:
                src.close()
            raise

    def _open(self, volumes: VolumeSet, candidates: list[OpenFragment]) -> None:
        ref = self.ref
        for vol, index, path in volumes.find_fragments(ref):
            try:
                fd = vol.open_fragment(path)
            except FileNotFoundError:
                continue  # deleted between the listing and now (a concurrent repair): not damage
            except OSError as exc:
                vol.fail(exc)
                self.damage.append(Damage(ref, index, vol.uuid, None, f"open: {exc}"))
                continue
            try:
                header = read_header(fd)
                if header.ref != ref or header.index != index:
                    raise FragmentFormatError(f"header names {header.ref}.{header.index}")
            except (OSError, FragmentFormatError) as exc:
                close_handle(fd)
                if isinstance(exc, OSError):
                    vol.fail(exc)
                self.damage.append(Damage(ref, index, vol.uuid, None, f"header: {exc}"))
                continue
            candidates.append(OpenFragment(vol, index, path, fd, header))
        if not candidates:
            raise ObjectNotFound(f"no readable fragment of {ref}")
        # Fragments disagreeing on what the object is (a stale copy from an earlier write of the same
        # ref) lose against the largest group of indices that agree.
        groups: dict[FragmentHeader, set[int]] = {}
        for src in candidates:
            groups.setdefault(replace(src.header, index=0), set()).add(src.index)
        self.header = max(groups, key=lambda h: len(groups[h]))
        for src in candidates:
            if src.header.same_object(self.header):
                self.sources.setdefault(src.index, []).append(src)
            else:
                src.close()
                self.damage.append(Damage(ref, src.index, src.volume.uuid, None, "header of another write"))
        self.policy = self.header.policy
        self.size = self.header.total_length
        self._codec = codec_for(self.policy)
        for index in range(self.policy.width):
            if index not in self.sources:
                self.damage.append(Damage(ref, index, None, None, "missing"))

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for sources in self.sources.values():
            for src in sources:
                src.close()
        self.sources.clear()

    def _payload(self, src: OpenFragment, stripe: int) -> bytearray | None:
        try:
            payload = read_record(src.fd, self.header, stripe)
        except OSError as exc:
            src.volume.fail(exc)
            src.dead = True
            self.damage.append(Damage(self.ref, src.index, src.volume.uuid, None, f"read: {exc}"))
            return None
        if payload is None:
            self.damage.append(Damage(self.ref, src.index, src.volume.uuid, stripe, "checksum mismatch"))
        return payload

    def stripe_pieces(self, stripe: int) -> list[memoryview]:
        """The object bytes of one stripe, from any ``k`` good fragments, as views in order (data
        fragments are tried first: when they are all good, nothing is decoded or copied)."""
        k = self.policy.k
        got: dict[int, bytearray] = {}
        for index in range(self.policy.width):
            for src in self.sources.get(index, ()):
                if not src.dead and (payload := self._payload(src, stripe)) is not None:
                    got[index] = payload
                    break
            if len(got) == k:
                break
        if len(got) < k:
            raise NotEnoughFragments(
                f"{self.ref} stripe {stripe}: {len(got)} good fragments of {self.policy.width}, "
                f"{self.policy} needs {k}")
        want = self.header.stripe_length(stripe)
        pieces = self._codec.pieces(got, want)
        if sum(len(p) for p in pieces) != want:
            raise NotEnoughFragments(f"{self.ref} stripe {stripe}: decoded the wrong length")
        return pieces

    def _prefetch(self, stripe: int) -> None:
        """Ask remote fragments for their first window at once (the k first indices: the ones a
        healthy read uses), so they travel in parallel; local fragments need nothing."""
        offset = self.header.record_offset(stripe)
        for index in range(self.policy.k):
            for src in self.sources.get(index, ())[:1]:
                prefetch = getattr(src.fd, "prefetch", None)
                if prefetch is not None:
                    prefetch(offset)

    def read_stripe(self, stripe: int) -> bytes:
        return b"".join(self.stripe_pieces(stripe))

    def iter_range(self, start: int = 0, length: int | None = None) -> Iterator[memoryview]:
        """Bytes [start, start+length) clipped to the object, a stripe at a time (views, no copies:
        a stripe's buffers are released when the next stripe is read, so memory stays bounded)."""
        end = self.size if length is None else min(self.size, start + length)
        if start < 0:
            raise ValueError("negative start")
        bs = self.header.block_size
        pos = start
        if pos < end:
            self._prefetch(pos // bs)
        while pos < end:
            stripe = pos // bs
            at = stripe * bs  # object offset of the current piece
            for piece in self.stripe_pieces(stripe):
                lo, hi = max(pos, at) - at, min(end, at + len(piece)) - at
                if lo < hi:
                    yield piece[lo:hi]
                at += len(piece)
            pos = min(end, at)

    def read(self, start: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.iter_range(start, length))


def read_object(volumes: VolumeSet, ref: str, start: int = 0, length: int | None = None) -> tuple[bytes, list[Damage]]:
    """A byte range of a segment and the damage seen while reading it."""
    with ObjectReader(volumes, ref) as reader:
        data = reader.read(start, length)
        return data, reader.damage


def repair(volumes: VolumeSet, ref: str) -> RepairResult:
    """Verify every fragment of a ref end to end; rebuild the missing or damaged ones onto the volume
    of the damaged copy if writable (atomic rename over it), else onto the best-ranked writable volume
    holding no other fragment. Damaged copies elsewhere are deleted once the new one is durable."""
    result = RepairResult(ref)
    with ObjectReader(volumes, ref) as reader:
        result.damage.extend(reader.damage)
        healthy: dict[int, OpenFragment] = {}
        damaged: dict[int, list[OpenFragment]] = {}
        for index, sources in reader.sources.items():
            for src in sources:
                try:
                    _, bad = verify_file(src.fd)
                except (OSError, FragmentFormatError) as exc:
                    bad, reason = [-1], f"verify: {exc}"
                else:
                    reason = f"bad stripes {bad}"
                if bad or src.dead:
                    damaged.setdefault(index, []).append(src)
                    result.damage.append(Damage(ref, index, src.volume.uuid, None, reason))
                elif index not in healthy:
                    healthy[index] = src
        todo = [i for i in range(reader.policy.width) if i not in healthy]
        if not todo:
            return result
        used = {src.volume.uuid for src in healthy.values()}
        cap = volumes.domain_cap(reader.policy.m)
        per_domain = Counter(src.volume.domain for src in healthy.values())
        targets: dict[int, Volume] = {}
        for index in todo:
            prefer = [s.volume for s in damaged.get(index, ()) if s.volume.writable and s.volume.uuid not in used]
            spare = [v for v in prefer + volumes.writable_ranked(ref)
                     if v.uuid not in used and (cap is None or per_domain[v.domain] < cap)]
            if spare:
                targets[index] = spare[0]
                used.add(spare[0].uuid)
                per_domain[spare[0].domain] += 1
            else:
                result.unrepaired.append(index)
        sinks = open_sinks(sorted(targets.items()), [], ref)
        result.unrepaired.extend(i for i in targets if i not in sinks)
        try:
            for stripe in range(reader.header.block_count):
                # Re-encoding the decoded block gives the exact payloads: the encoders are deterministic.
                payloads = reader._codec.encode(reader.read_stripe(stripe))
                for index in list(sinks):
                    try:
                        sinks[index].append(stripe, payloads[index])
                    except OSError as exc:
                        sinks[index].volume.fail(exc)
                        sinks.pop(index).discard()
                        result.unrepaired.append(index)
            for index, sink in sorted(sinks.items()):
                try:
                    path = sink.finish(replace(reader.header, index=index))
                except OSError as exc:
                    sink.volume.fail(exc)
                    sink.discard()
                    result.unrepaired.append(index)
                    continue
                result.rebuilt.append(FragmentLocation(index, sink.volume.uuid, str(path)))
                for old in damaged.get(index, ()):
                    if str(old.path) != str(path) and _unlink_on(old.volume, old.path):
                        result.removed.append(str(old.path))
        finally:
            for sink in sinks.values():
                sink.discard()
    result.unrepaired.sort()
    return result


def _unlink_on(volume: Volume, path: str | Path) -> bool:
    try:
        return volume.unlink_fragment(path)
    except OSError:
        return False

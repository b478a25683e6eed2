"""Encryption at rest: block streams, range reads, tampering, key wrapping, key files, SSE headers."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol.errors import S3Error
from coffer.server.crypto.envelope import (
    BLOCK_SIZE,
    TAG_SIZE,
    WRAPPED_SIZE,
    CustomerKey,
    DecryptionError,
    Encryptor,
    ciphertext_size,
    customer_key,
    decrypt_blocks,
    decrypt_bytes,
    decrypt_range,
    encrypt_bytes,
    new_data_key,
    plan_range,
    require_customer_key,
    sse_request,
    unwrap_key,
    wrap_key,
)
from coffer.server.crypto.keys import KmsStore, load_master_key, master_key_path, sse_s3_key_id

KEY = bytes(range(32))


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 47, 48, 49, 1000])
def test_roundtrip_sizes(size: int) -> None:
    data = os.urandom(size)
    stored = encrypt_bytes(data, KEY, block_size=16)
    assert len(stored) == ciphertext_size(size, 16)
    assert decrypt_bytes(stored, size, KEY, block_size=16) == data


def test_default_block_size_and_incremental_feed() -> None:
    data = os.urandom(3 * BLOCK_SIZE + 123)
    enc = Encryptor(KEY, stream_id=7)
    stored = b"".join(enc.feed(data[i : i + 10_000]) for i in range(0, len(data), 10_000)) + enc.finish()
    assert stored == encrypt_bytes(data, KEY, stream_id=7)  # chunking never changes the stored bytes
    assert len(stored) == len(data) + 4 * TAG_SIZE
    assert decrypt_bytes(stored, len(data), KEY, stream_id=7) == data


class Recorder:
    """Stored bytes that remember which offsets a reader asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=700),
    block=st.sampled_from([1, 7, 16, 64, 100]),
    a=st.integers(min_value=0),
    b=st.integers(min_value=0),
    piece=st.integers(min_value=1, max_value=300),
)
def test_any_range_decrypts_to_the_slice_reading_only_needed_blocks(
    data: bytes, block: int, a: int, b: int, piece: int
) -> None:
    start, end = sorted((a % len(data), b % len(data)))
    store = Recorder(encrypt_bytes(data, KEY, stream_id=3, block_size=block))
    plan = plan_range(start, end, len(data), block)
    stored = store.read(plan.cipher_offset, plan.cipher_length)
    assert decrypt_range(stored, plan, len(data), KEY, 3, block) == data[start : end + 1]
    # Only the blocks overlapping the range were read: first and last are the range's own blocks.
    stored_block = block + TAG_SIZE
    assert store.reads == [(plan.cipher_offset, plan.cipher_length)]
    assert plan.cipher_offset == (start // block) * stored_block
    assert plan.cipher_offset + plan.cipher_length == min((end // block + 1) * stored_block, len(store.data))
    # The streaming form gives the same bytes whatever the piece size of the stored stream.
    pieces = [stored[i : i + piece] for i in range(0, len(stored), piece)]
    assert b"".join(decrypt_blocks(pieces, plan, len(data), KEY, 3, block)) == data[start : end + 1]


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=1, max_size=300), pos=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_fails_loudly(data: bytes, pos: int, bit: int) -> None:
    stored = bytearray(encrypt_bytes(data, KEY, block_size=32))
    stored[pos % len(stored)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        decrypt_bytes(bytes(stored), len(data), KEY, block_size=32)


def test_reordered_truncated_or_foreign_blocks_fail() -> None:
    data = os.urandom(64)  # four blocks of 16
    stored = encrypt_bytes(data, KEY, block_size=16)
    sb = 16 + TAG_SIZE
    swapped = stored[sb : 2 * sb] + stored[:sb] + stored[2 * sb :]
    with pytest.raises(DecryptionError):
        decrypt_bytes(swapped, 64, KEY, block_size=16)
    with pytest.raises(DecryptionError):  # dropped last block, even if the size is "corrected"
        decrypt_bytes(stored[: 3 * sb], 48, KEY, block_size=16)
    with pytest.raises(DecryptionError):  # the same bytes read as another part of the object
        decrypt_bytes(stored, 64, KEY, stream_id=2, block_size=16)
    with pytest.raises(DecryptionError):
        decrypt_bytes(stored, 64, new_data_key(), block_size=16)
    plan = plan_range(40, 63, 64, 16)
    with pytest.raises(DecryptionError):  # a short read of the stored stream
        decrypt_range(stored[plan.cipher_offset : plan.cipher_offset + plan.cipher_length - 5], plan, 64, KEY, 0, 16)


def test_no_plaintext_in_ciphertext() -> None:
    marker = b"TOP-SECRET-PLAINTEXT-MARKER-0123"
    data = marker * 10_000
    stored = encrypt_bytes(data, new_data_key())
    assert marker[:8] not in stored
    assert all(data[i : i + 16] not in stored for i in range(0, 4096, 7))
    # Same plaintext, new data key: unrelated stored bytes.
    assert encrypt_bytes(data, new_data_key())[:64] != stored[:64]


def test_plan_range_refuses_outside() -> None:
    for start, end in [(-1, 0), (5, 4), (0, 10)]:
        with pytest.raises(ValueError):
            plan_range(start, end, 10)


# -- data key wrapping ---------------------------------------------------------------------------------
def test_wrap_roundtrip_and_tampering() -> None:
    master, dk = new_data_key(), new_data_key()
    wrapped = wrap_key(dk, master, "m1")
    assert len(wrapped) == WRAPPED_SIZE and dk not in wrapped
    assert unwrap_key(wrapped, master, "m1") == dk
    for i in range(len(wrapped)):
        bad = bytearray(wrapped)
        bad[i] ^= 0x01
        with pytest.raises(DecryptionError):
            unwrap_key(bytes(bad), master, "m1")
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped, master, "m2")  # the key id is authenticated
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped, new_data_key(), "m1")
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped[:-1], master, "m1")


# -- master key ----------------------------------------------------------------------------------------
def test_master_key_file_created_private_and_stable(tmp_path: Path) -> None:
    key = load_master_key(tmp_path, env={})
    path = master_key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_master_key(tmp_path, env={}) == key and len(key) == 32
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        load_master_key(tmp_path, env={})


def test_master_key_from_env_and_env_file(tmp_path: Path) -> None:
    raw = os.urandom(32)
    assert load_master_key(tmp_path, env={"COFFER_MASTER_KEY": base64.b64encode(raw).decode()}) == raw
    assert load_master_key(tmp_path, env={"COFFER_MASTER_KEY": raw.hex()}) == raw
    assert not master_key_path(tmp_path).exists()  # env keys never create a file
    with pytest.raises(ValueError):
        load_master_key(tmp_path, env={"COFFER_MASTER_KEY": "c2hvcnQ="})
    f = tmp_path / "mk"
    f.write_text(raw.hex() + "\n")
    f.chmod(0o600)
    assert load_master_key(tmp_path, env={"COFFER_MASTER_KEY_FILE": str(f)}) == raw


# -- KMS key store -------------------------------------------------------------------------------------
def test_kms_store(tmp_path: Path) -> None:
    master = new_data_key()
    store = KmsStore(tmp_path, master)
    a, b = store.create("first"), store.create()
    assert [k.id for k in store.list()] == [a.id, b.id]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    again = KmsStore(tmp_path, master)
    assert again.get(a.id) == a and again.get(a.arn) == a and a.state == "Enabled"
    key, material = again.usable(a.id)
    assert key == a
    assert len(material) == 32 and material != KmsStore(tmp_path, master).usable(b.id)[1]
    assert base64.b64encode(material) not in store.path.read_bytes()  # stored wrapped only
    with pytest.raises(DecryptionError):
        KmsStore(tmp_path, new_data_key()).usable(a.id)
    with pytest.raises(S3Error) as info:
        store.get("nope")
    assert info.value.code == "KMS.NotFoundException"
    store.set_state(a.id, "Disabled")
    with pytest.raises(S3Error) as info:
        store.usable(a.id)
    assert info.value.code == "KMS.DisabledException"
    store.set_state(a.id, "PendingDeletion")
    with pytest.raises(S3Error) as info:
        store.usable(a.id)
    assert info.value.code == "KMS.KMSInvalidStateException"
    assert store.usable(b.id)[0] == b


def test_kms_aliases(tmp_path: Path) -> None:
    store = KmsStore(tmp_path, new_data_key())
    root = store.create("photos root key", alias="photos-root")
    plain = store.create()
    assert store.get("alias/photos-root") == root
    assert store.get("arn:aws:kms:us-east-1:000000000000:alias/photos-root") == root
    assert store.get(plain.id).alias == ""
    for bad in ("aws/s3", "has space", "x" * 251):
        with pytest.raises(ValueError):
            store.create(alias=bad)
    with pytest.raises(ValueError, match="already"):
        store.create(alias="photos-root")
    with pytest.raises(S3Error):
        store.get("photos-root")  # a bare name is a key id, not an alias, as in AWS KMS
    with pytest.raises(S3Error):
        store.get("alias/other")


def test_envelope_per_mode(tmp_path: Path) -> None:
    """The three SSE modes end to end: a data key wrapped under each mode's key id opens only there."""
    master = new_data_key()
    kms_key, kms_material = KmsStore(tmp_path, master).usable(KmsStore(tmp_path, master).create().id)
    customer = os.urandom(32)
    dk = new_data_key()
    for wrapping, key_id in [
        (master, sse_s3_key_id(master)),
        (kms_material, kms_key.data_key_id),
        (customer, CustomerKey(customer, "").key_id),
    ]:
        wrapped = wrap_key(dk, wrapping, key_id)
        assert unwrap_key(wrapped, wrapping, key_id) == dk
        assert customer not in wrapped and dk not in wrapped
    assert sse_s3_key_id(master) != sse_s3_key_id(new_data_key())
    assert kms_key.data_key_id == "sse-kms:" + kms_key.id


# -- SSE headers ---------------------------------------------------------------------------------------
CK = os.urandom(32)
CK_B64 = base64.b64encode(CK).decode()
CK_MD5 = base64.b64encode(hashlib.md5(CK).digest()).decode()
P = "x-amz-server-side-encryption-customer-"


def _c(algo: str | None = "AES256", key: str | None = CK_B64, md5: str | None = CK_MD5) -> dict[str, str]:
    h = {P + "algorithm": algo, P + "key": key, P + "key-md5": md5}
    return {k: v for k, v in h.items() if v is not None}


@pytest.mark.parametrize(
    ("headers", "code", "fragment"),
    [
        (_c(algo=None), "InvalidArgument", "valid encryption algorithm"),
        (_c(algo="AES128"), "InvalidEncryptionAlgorithmError", "Supported value: AES256"),
        (_c(key=None), "InvalidArgument", "appropriate secret key"),
        (_c(key="!!!"), "InvalidArgument", "secret key was invalid"),
        (_c(key=base64.b64encode(b"short").decode()), "InvalidArgument", "secret key was invalid"),
        (_c(md5=None), "InvalidArgument", "calculated MD5 of the secret key"),
        (_c(md5=base64.b64encode(b"0" * 16).decode()), "InvalidArgument", "did not match"),
        ({**_c(), "x-amz-server-side-encryption": "AES256"}, "InvalidArgument", "incompatible"),
        ({"x-amz-server-side-encryption": "AES512"}, "InvalidArgument", "not supported"),
        ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, "InvalidArgument", "requires HTTP header"),
        (
            {"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
            "InvalidArgument",
            "requires HTTP header",
        ),
    ],
)
def test_sse_header_errors(headers: dict[str, str], code: str, fragment: str) -> None:
    with pytest.raises(S3Error) as info:
        sse_request(headers)
    assert info.value.code == code and info.value.status == 400
    assert fragment in info.value.message


def test_sse_requests() -> None:
    assert sse_request({}).mode is None
    assert sse_request({"x-amz-server-side-encryption": "AES256"}).mode == "AES256"
    kms = sse_request({"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"})
    assert (kms.mode, kms.kms_key_id) == ("aws:kms", "k")
    c = sse_request(_c())
    assert c.mode == "SSE-C" and c.customer == CustomerKey(CK, CK_MD5)
    with pytest.raises(S3Error) as info:
        sse_request(_c(), secure=False)
    assert info.value.code == "InvalidRequest"
    copy = {k.replace(P, "x-amz-copy-source-server-side-encryption-customer-"): v for k, v in _c().items()}
    assert customer_key(copy, "x-amz-copy-source-server-side-encryption-customer-") == CustomerKey(CK, CK_MD5)
    assert customer_key(copy) is None


def test_reading_sse_c_needs_the_same_key() -> None:
    given = customer_key(_c())
    assert given is not None
    assert require_customer_key(given.key_id, given) is given
    with pytest.raises(S3Error) as info:
        require_customer_key(given.key_id, None)
    assert (info.value.code, info.value.status) == ("InvalidRequest", 400)
    other = os.urandom(32)
    wrong = customer_key(
        _c(key=base64.b64encode(other).decode(), md5=base64.b64encode(hashlib.md5(other).digest()).decode())
    )
    with pytest.raises(S3Error) as info:
        require_customer_key(given.key_id, wrong)
    assert (info.value.code, info.value.status) == ("InvalidRequest", 400)  # not 403, as S3's suites expect

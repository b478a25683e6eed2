"""A MessagePack encoder for the few shapes the AIStore API answers in (object listings).

AIStore's SDK asks for listings with `Accept: application/msgpack` and decodes them with msgspec;
a JSON answer would not decode into its `BucketList` struct. The listing is maps, arrays, strings,
integers, booleans and nil, so this encoder covers exactly those (per the MessagePack spec's
smallest-format rules) rather than pulling in a serialisation library for the server.
"""

from __future__ import annotations

import struct
from typing import Any


def packb(value: Any) -> bytes:
    out = bytearray()
    _pack(value, out)
    return bytes(out)


def _pack(v: Any, out: bytearray) -> None:
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        _int(v, out)
    elif isinstance(v, str):
        b = v.encode("utf-8")
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 0x100:
            out += bytes((0xD9, n))
        elif n < 0x10000:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(v, bytes | bytearray):
        n = len(v)
        if n < 0x100:
            out += bytes((0xC4, n))
        elif n < 0x10000:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += v
    elif isinstance(v, list | tuple):
        _header(len(v), 0x90, 0xDC, out)
        for item in v:
            _pack(item, out)
    elif isinstance(v, dict):
        _header(len(v), 0x80, 0xDE, out)
        for k, item in v.items():
            _pack(k, out)
            _pack(item, out)
    elif isinstance(v, float):
        out += b"\xcb" + struct.pack(">d", v)
    else:
        raise TypeError(f"cannot encode {type(v).__name__} as MessagePack")


def _header(n: int, fix: int, marker16: int, out: bytearray) -> None:
    if n < 16:
        out.append(fix | n)
    elif n < 0x10000:
        out += bytes((marker16,)) + struct.pack(">H", n)
    else:
        out += bytes((marker16 + 1,)) + struct.pack(">I", n)


def _int(v: int, out: bytearray) -> None:
    if 0 <= v < 0x80:
        out.append(v)
    elif -32 <= v < 0:
        out.append(v & 0xFF)
    elif v >= 0:
        if v < 0x100:
            out += bytes((0xCC, v))
        elif v < 0x10000:
            out += b"\xcd" + struct.pack(">H", v)
        elif v < 0x100000000:
            out += b"\xce" + struct.pack(">I", v)
        elif v < 1 << 64:
            out += b"\xcf" + struct.pack(">Q", v)
        else:
            raise OverflowError("integer too large for MessagePack")
    else:
        if v >= -0x80:
            out += b"\xd0" + struct.pack(">b", v)
        elif v >= -0x8000:
            out += b"\xd1" + struct.pack(">h", v)
        elif v >= -0x80000000:
            out += b"\xd2" + struct.pack(">i", v)
        elif v >= -(1 << 63):
            out += b"\xd3" + struct.pack(">q", v)
        else:
            raise OverflowError("integer too large for MessagePack")

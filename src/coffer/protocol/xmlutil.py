"""S3 XML: safe parsing of request bodies and a fast builder for response bodies.

Parsing goes through defusedxml with DTDs forbidden outright (no S3 document has one), so entity
expansion, external entities and DTD tricks all end in :class:`XmlError`, which the server answers as
MalformedXML.  Lookups ignore namespaces because clients are inconsistent about sending the S3 one.

Serialisation is a small dict-to-XML builder written for listing speed (1000 keys per page): it appends
string pieces to one list and joins once.  XML 1.0 cannot carry most C0 control characters at all, not
even as character references, so they are replaced by U+FFFD to keep the document parseable; clients
that need such keys exactly use ``encoding-type=url`` (botocore always does for listings) and the server
url-encodes those fields before they reach this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as _defused
from defusedxml import DefusedXmlException

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Characters XML 1.0 forbids (C0 controls except TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF) plus CR,
# which is legal but would be normalised to LF by every parser unless written as a reference.
_NEEDS_FIXUP = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class XmlError(ValueError):
    """The body is not acceptable XML (malformed, too large, or uses DTD/entity features)."""


def parse(body: bytes, max_bytes: int = 1 << 20) -> Element:
    """Parse a request body; raises :class:`XmlError` for anything but a small well-formed document."""
    if len(body) > max_bytes:
        raise XmlError(f"XML body larger than {max_bytes} bytes")
    if not body.strip():
        raise XmlError("empty XML body")
    try:
        return _defused.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError, RecursionError) as exc:
        raise XmlError(str(exc) or type(exc).__name__) from exc


def local_name(el: Element) -> str:
    """Tag without its ``{namespace}`` prefix."""
    tag = el.tag
    if not isinstance(tag, str):  # comments / processing instructions have callable tags
        return ""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def find(el: Element, name: str) -> Element | None:
    """First direct child called ``name`` (any namespace), or None."""
    for child in el:
        if local_name(child) == name:
            return child
    return None


def children(el: Element, name: str) -> list[Element]:
    """All direct children called ``name`` (any namespace), in document order."""
    return [child for child in el if local_name(child) == name]


def child_text(el: Element, name: str) -> str | None:
    """Text of the first child called ``name``: None when absent, "" when present but empty."""
    child = find(el, name)
    if child is None:
        return None
    return child.text or ""


def has_invalid_chars(s: str) -> bool:
    """True when ``s`` holds characters XML 1.0 cannot carry (so it should travel url-encoded)."""
    return _INVALID_XML.search(s) is not None


def _fixup(m: re.Match[str]) -> str:
    return "&#13;" if m.group() == "\r" else "\ufffd"


def escape_text(s: str) -> str:
    """Escape ``s`` for element content, keeping the result well-formed XML 1.0."""
    s = escape(s)
    if _NEEDS_FIXUP.search(s) is not None:
        s = _NEEDS_FIXUP.sub(_fixup, s)
    return s


def _escape_attr(s: str) -> str:
    return escape_text(s).replace('"', "&quot;")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _emit(out: list[str], name: str, value: Any) -> None:
    # Exact type checks first: str/int leaves dominate listings and ABC isinstance checks are slow.
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:
        out.append(f"<{name}>{value}</{name}>")
        return
    elif value is None:
        return
    elif kind is dict or isinstance(value, Mapping | _Pairs):
        # _Pairs is a list subclass, so it is tested before the repeat-the-element list case.
        out.append("<" + name)
        _emit_body(out, value)
        out.append("</" + name + ">")
        return
    elif kind is list or kind is tuple:
        for item in value:
            _emit(out, name, item)
        return
    else:
        text = _scalar(value)
    # Fast path: most values (sizes, ETags, plain keys) need no escaping at all.
    if "&" in text or "<" in text or ">" in text or _NEEDS_FIXUP.search(text) is not None:
        text = escape_text(text)
    out.append(f"<{name}>{text}</{name}>")


def _emit_body(out: list[str], body: Any) -> None:
    """Finish the pending open tag with attributes (keys starting with "@"), then emit the children."""
    items = list(body.items() if type(body) is dict or isinstance(body, Mapping) else body)
    for key, value in items:
        if key[:1] == "@" and value is not None:
            out.append(f' {key[1:]}="{_escape_attr(_scalar(value))}"')
    out.append(">")
    for key, value in items:
        if key[:1] != "@":
            _emit(out, key, value)


class _Pairs(list):
    """Marks an ordered list of (name, value) pairs used as a nested element body."""


def pairs(*items: tuple[str, Any]) -> _Pairs:
    """An ordered element body where names may repeat or interleave (e.g. Contents, CommonPrefixes)."""
    return _Pairs(items)


def to_xml(root_name: str, body: Any, ns: str | None = S3_NS) -> bytes:
    """Serialise ``body`` under ``<root_name xmlns=ns>`` with the XML declaration.

    ``body`` is a dict (or :func:`pairs` / list of pairs for order-sensitive bodies): a list value
    repeats the element, None is skipped, bools become "true"/"false", nested dicts nest, and keys
    starting with "@" become attributes of the enclosing element.
    """
    out: list[str] = [XML_DECL, "<", root_name]
    if ns:
        out.append(f' xmlns="{_escape_attr(ns)}"')
    if body is None:
        out.append(f"></{root_name}>")
    else:
        _emit_body(out, body)
        out.append(f"</{root_name}>")
    return "".join(out).encode("utf-8")

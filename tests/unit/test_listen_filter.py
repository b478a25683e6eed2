"""The listen API's filter (service/events/listen.py): event names and families, prefix and suffix on
the decoded key, and the precise error for an unknown event name."""

from __future__ import annotations

import pytest

from coffer.protocol.errors import S3Error
from coffer.server.service.events.listen import ListenFilter


def _record(event: str, key: str) -> dict:
    return {"eventName": event, "s3": {"object": {"key": key}}}


def test_events_match_by_name_or_family() -> None:
    f = ListenFilter.parse(["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], "", "")
    assert f.matches(_record("ObjectCreated:Put", "a"))
    assert f.matches(_record("ObjectCreated:CompleteMultipartUpload", "a"))
    assert f.matches(_record("ObjectRemoved:Delete", "a"))
    assert not f.matches(_record("ObjectRemoved:DeleteMarkerCreated", "a"))
    assert not f.matches(_record("LifecycleExpiration:Delete", "a"))
    assert ListenFilter.parse([], "", "").matches(_record("LifecycleExpiration:Delete", "a"))  # none: all


def test_prefix_and_suffix_apply_to_the_decoded_key() -> None:
    f = ListenFilter.parse([], "in/sub dir/", ".txt")
    assert f.matches(_record("ObjectCreated:Put", "in/sub+dir/a%2Bb.txt"))  # "in/sub dir/a+b.txt"
    assert not f.matches(_record("ObjectCreated:Put", "in/sub+dir/a.log"))
    assert not f.matches(_record("ObjectCreated:Put", "out/sub+dir/a.txt"))


def test_unknown_event_is_invalid_argument() -> None:
    with pytest.raises(S3Error) as e:
        ListenFilter.parse(["s3:ObjectExploded:*"], "", "")
    assert e.value.code == "InvalidArgument" and e.value.status == 400
    ListenFilter.parse(["s3:ObjectAccessed:*"], "", "")  # MinIO's name: accepted, never produced

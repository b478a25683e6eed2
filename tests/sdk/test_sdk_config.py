"""Configuration: the environment provider chain, ~/.aws profiles, proxies, config validation, and the
bandwidth limit's token bucket arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from coffer import Client, ClientConfig, CofferError, TransferConfig
from coffer.sdk._config import normalize_endpoint, proxy_for, resolve


def test_coffer_variables_win(tmp_path: Path):
    env = {
        "COFFER_ENDPOINT": "http://c:1", "COFFER_ACCESS_KEY": "cak", "COFFER_SECRET_KEY": "csk",
        "AWS_ENDPOINT_URL": "http://a:2", "AWS_ACCESS_KEY_ID": "aak", "AWS_SECRET_ACCESS_KEY": "ask",
        "DS3_ENDPOINT": "d:3", "DS3_ACCESS_KEY": "dak", "DS3_SECRET_KEY": "dsk",
    }
    found = resolve(environ=env, home=tmp_path)
    assert found.endpoint == "http://c:1"
    assert found.credentials.access_key == "cak"
    assert found.sources == {"endpoint": "COFFER_ENDPOINT", "credentials": "COFFER_ACCESS_KEY", "region": "default"}


def test_aws_then_ds3(tmp_path: Path):
    env = {"AWS_ENDPOINT_URL": "https://a:2", "AWS_ACCESS_KEY_ID": "aak", "AWS_SECRET_ACCESS_KEY": "ask",
           "AWS_SESSION_TOKEN": "tok", "AWS_REGION": "eu-west-1", "DS3_ENDPOINT": "d:3"}
    found = resolve(environ=env, home=tmp_path)
    assert (found.endpoint, found.credentials.access_key, found.credentials.session_token, found.region) == (
        "https://a:2", "aak", "tok", "eu-west-1")
    ds3 = resolve(environ={"DS3_ENDPOINT": "host:8080", "DS3_ACCESS_KEY": "k", "DS3_SECRET_KEY": "s"}, home=tmp_path)
    assert ds3.endpoint == "http://host:8080" and ds3.credentials.secret_key == "s"


def test_aws_profiles(tmp_path: Path):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("[default]\naws_access_key_id = dk\naws_secret_access_key = ds\n"
                                     "[work]\naws_access_key_id = wk\naws_secret_access_key = ws\n")
    (aws / "config").write_text("[default]\nregion = us-west-2\n"
                                "[profile work]\nregion = ap-south-1\nendpoint_url = http://work:9000\n")
    found = resolve(environ={"COFFER_ENDPOINT": "http://x:1"}, home=tmp_path)
    assert (found.credentials.access_key, found.region) == ("dk", "us-west-2")
    work = resolve(environ={"AWS_PROFILE": "work"}, home=tmp_path)
    assert (work.endpoint, work.credentials.access_key, work.region) == ("http://work:9000", "wk", "ap-south-1")
    assert work.sources["credentials"] == "aws profile"


def test_missing_endpoint_is_a_clear_error(tmp_path: Path):
    with pytest.raises(CofferError, match="no endpoint"):
        resolve(environ={}, home=tmp_path)
    with pytest.raises(CofferError, match="both"):
        Client("http://x:1", access_key="only")


@pytest.mark.parametrize("bad", ["ftp://x", "http://x/path", "http://u:p@x", "http://", "http://x:notaport"])
def test_bad_endpoints(bad):
    with pytest.raises(ValueError):
        normalize_endpoint(bad)


def test_from_env_builds_a_client(tmp_path: Path):
    env = {"COFFER_ENDPOINT": "http://127.0.0.1:9", "COFFER_ACCESS_KEY": "k", "COFFER_SECRET_KEY": "TOPSECRET",
           "http_proxy": "http://proxy:3128"}
    client = Client.from_env(environ=env, home=tmp_path)
    assert client.endpoint == "http://127.0.0.1:9" and client.access_key == "k"
    assert client.proxy == "http://proxy:3128"
    assert "TOPSECRET" not in repr(client) and "TOPSECRET" not in repr(client._transport.credentials)


def test_proxy_rules():
    assert proxy_for("http://h:1", {"http_proxy": "p:3128"}) == "http://p:3128"
    assert proxy_for("https://h:1", {"http_proxy": "http://p:1"}) is None
    assert proxy_for("https://h:1", {"HTTPS_PROXY": "http://p:2"}) == "http://p:2"
    assert proxy_for("http://h:1", {"http_proxy": "http://p:1", "no_proxy": "h"}) is None
    assert proxy_for("http://a.example.com", {"http_proxy": "http://p:1", "no_proxy": ".example.com"}) is None
    assert proxy_for("http://h:1", {"http_proxy": "http://p:1", "no_proxy": "*"}) is None
    assert proxy_for("http://other:1", {"http_proxy": "http://p:1", "no_proxy": "h"}) == "http://p:1"


def test_config_validation():
    with pytest.raises(ValueError):
        TransferConfig(multipart_chunksize=1024)
    with pytest.raises(ValueError):
        TransferConfig(max_concurrency=0)
    with pytest.raises(ValueError):
        ClientConfig(append_mode="sometimes")
    cfg = TransferConfig(multipart_chunksize=5 << 20)
    assert cfg.part_size_for(1 << 40) * 10_000 >= 1 << 40
    assert cfg.part_size_for(100) == 5 << 20
    with pytest.raises(ValueError):
        TransferConfig(download_range_size=0)


def test_download_ranges_are_sized_to_the_object():
    MiB = 1 << 20
    cfg = TransferConfig()  # 8 MiB parts, 10 concurrent requests
    assert cfg.range_size_for(20 * MiB) == 8 * MiB  # never below the part size
    assert cfg.range_size_for(1 << 30) == 52 * MiB  # 1 GiB / 20, rounded up to a whole MiB: 20 ranges
    assert cfg.range_size_for(100 << 30) == 64 * MiB  # capped: beyond that a longer range saves nothing
    assert TransferConfig(max_concurrency=2).range_size_for(1 << 30) == 64 * MiB
    assert TransferConfig(multipart_chunksize=128 * MiB).range_size_for(1 << 30) == 128 * MiB
    assert TransferConfig(download_range_size=3 * MiB).range_size_for(1 << 30) == 3 * MiB


def test_token_bucket_starts_empty_and_saves_at_most_a_quarter_second():
    """The arithmetic both managers' bandwidth limits share (sync Throttle, async AsyncThrottle)."""
    from coffer.sdk._body import TokenBucket

    bucket = TokenBucket(1000, now=10.0)
    assert bucket.take(500, now=10.0) == 0.5  # no budget at the start: no opening burst
    assert bucket.take(500, now=10.5) == 0.5  # the first debt was paid by 10.5; this one by 11.0
    assert bucket.take(100, now=60.0) == 0.0  # a long idle (or pause) saved only 250 bytes...
    assert bucket.take(400, now=60.0) == 0.25  # ...so the next bytes wait again
    assert bucket.take(10, now=59.0) > 0  # a clock read out of order never adds budget

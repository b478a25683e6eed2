"""HTTPS on `coffer serve`: a CA and certificates made here (cryptography), driven by boto3, the aws CLI,
Coffer's SDK and CLI; certificate reload on SIGHUP without dropping connections; aws:SecureTransport;
SSE-C and bearer tokens refused over plain HTTP from another host."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ports import free_port


@dataclass
class Pki:
    ca: Path
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    def issue(self, cert_path: Path, key_path: Path, cn: str) -> int:
        """A server certificate for 127.0.0.1/localhost signed by the CA; returns its serial number."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(self.ca_cert.subject).public_key(key.public_key()).serial_number(serial)
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.ca_key, hashes.SHA256()))
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return serial


def make_pki(folder: Path) -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Coffer test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca = folder / "ca.pem"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(ca, key, cert)


@dataclass
class TlsServer:
    """`coffer serve` over HTTPS (conftest's ServerProcess waits for plain HTTP)."""

    data: Path
    ca: Path
    port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    access_key: str = "TLSACCESSKEY"
    secret_key: str = "tls-secret-key-0123456789"
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        log = self.data.parent / "server.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coffer", "serve", "--data", str(self.data), "--workers", "2",
                 "--address", f"127.0.0.1:{self.port}", "--website-address", f"127.0.0.1:{self.web_port}",
                 "--access-key", self.access_key, "--secret-key", self.secret_key, *extra],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        ctx = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + 60  # two workers and a TLS handshake on a loaded 2-core CI machine
        while True:
            assert self.proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(self.endpoint + "/health/ready", timeout=5, context=ctx):
                    return
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki, tmp_path_factory):
    """A two-worker server with its certificate where MinIO keeps one: DATA/certs/public.crt + private.key."""
    data = tmp_path_factory.mktemp("tls") / "data"
    pki.issue(data / "certs" / "public.crt", data / "certs" / "private.key", "coffer-1")
    srv = TlsServer(data=data, ca=pki.ca)
    srv.start()
    yield srv
    srv.stop()


def s3_client(srv, **kw):
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                        config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}), **kw)


def peer_serial(port: int, ca: Path) -> int:
    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    conn.connect()
    der = conn.sock.getpeercert(binary_form=True)
    conn.close()
    return x509.load_der_x509_certificate(der).serial_number


def test_boto3_verifies_against_the_ca_and_secure_transport_is_true(tls_server, pki):
    s3 = s3_client(tls_server, verify=str(pki.ca))
    s3.create_bucket(Bucket="tls")
    s3.put_object(Bucket="tls", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == b"over tls"
    # anonymous reads allowed only over TLS: this policy lets them through here
    s3.put_bucket_policy(Bucket="tls", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with urllib.request.urlopen(f"{tls_server.endpoint}/tls/k", context=ctx, timeout=10) as r:
        assert r.read() == b"over tls"
    # without the CA, the default trust store refuses the certificate
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(f"{tls_server.endpoint}/tls/k", timeout=10, context=ssl.create_default_context())
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
    # SSE-C over TLS is accepted (from any host)
    key = os.urandom(32)
    s3.put_object(Bucket="tls", Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert s3.get_object(Bucket="tls", Key="c", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=key)["Body"].read() == b"secret"


def test_secure_transport_is_false_over_plain_http(server_factory):
    srv = server_factory()
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket="plain", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::plain/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{srv.endpoint}/plain/k", timeout=10)
    assert e.value.code == 403


def test_aws_cli_with_ca_bundle(tls_server, pki, tmp_path):
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        aws = shutil.which("aws")
    if not aws:
        pytest.skip("the aws CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=tls_server.access_key, AWS_SECRET_ACCESS_KEY=tls_server.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path),
               AWS_CONFIG_FILE=str(tmp_path / "config"))
    (tmp_path / "config").write_text("[default]\ns3 =\n    addressing_style = path\n")
    (tmp_path / "f.txt").write_text("from the aws cli")
    base = [str(aws), "--endpoint-url", tls_server.endpoint]
    ok = subprocess.run([*base, "--ca-bundle", str(pki.ca), "s3", "cp", str(tmp_path / "f.txt"), "s3://tls/cli.txt"],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*base, "s3", "ls", "s3://tls/"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "SSL" in bad.stderr + bad.stdout
    s3 = s3_client(tls_server, verify=str(pki.ca))
    assert s3.get_object(Bucket="tls", Key="cli.txt")["Body"].read() == b"from the aws cli"


def test_sdk_and_cli_verify_certificates(tls_server, pki, tmp_path):
    from coffer import Client, ClientConfig

    ok = Client(tls_server.endpoint, tls_server.access_key, tls_server.secret_key,
                config=ClientConfig(ca_bundle=str(pki.ca)))
    ok.bucket("sdk-tls").create(exist_ok=True)
    ok.bucket("sdk-tls").object("o").put(b"sdk")
    assert ok.bucket("sdk-tls").object("o").read() == b"sdk"
    names = [b.name for b in ok.list_buckets()]
    assert "sdk-tls" in names

    import asyncio

    from coffer import AsyncClient

    async def list_async() -> list[str]:
        async with AsyncClient(tls_server.endpoint, tls_server.access_key, tls_server.secret_key,
                               config=ClientConfig(ca_bundle=str(pki.ca))) as aclient:
            return [b.name for b in await aclient.list_buckets()]

    assert "sdk-tls" in asyncio.run(list_async())
    strict = Client(tls_server.endpoint, tls_server.access_key, tls_server.secret_key,
                    config=ClientConfig(max_attempts=1))
    with pytest.raises(Exception, match=r"(?i)certificate|ssl"):
        strict.list_buckets()
    lax = Client(tls_server.endpoint, tls_server.access_key, tls_server.secret_key,
                 config=ClientConfig(verify_tls=False, max_attempts=1))
    assert "sdk-tls" in [b.name for b in lax.list_buckets()]
    # the CLI: --ca-bundle, or --insecure; neither -> a certificate error
    env = {**os.environ, "COFFER_CONFIG_DIR": str(tmp_path),
           "COFFER_HOST_TLS": f"https://{tls_server.access_key}:{tls_server.secret_key}@127.0.0.1:{tls_server.port}"}
    for flags, good in ((["--ca-bundle", str(pki.ca)], True), (["--insecure"], True), ([], False)):
        res = subprocess.run([sys.executable, "-m", "coffer", *flags, "ls", "tls/"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert (res.returncode == 0) == good, (flags, res.stdout, res.stderr)


def test_sighup_reloads_the_certificate_without_dropping_connections(tls_server, pki):
    first = peer_serial(tls_server.port, pki.ca)
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    kept = http.client.HTTPSConnection("127.0.0.1", tls_server.port, context=ctx, timeout=10)
    kept.request("GET", "/health/live")
    assert kept.getresponse().read() is not None
    new = pki.issue(tls_server.data / "certs" / "public.crt", tls_server.data / "certs" / "private.key", "coffer-2")
    assert new != first
    tls_server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    seen = set()
    while time.monotonic() < deadline:  # every worker reloads; new handshakes get the new certificate
        seen = {peer_serial(tls_server.port, pki.ca) for _ in range(6)}
        if seen == {new}:
            break
        time.sleep(0.2)
    assert seen == {new}
    kept.request("GET", "/health/live")  # the connection opened before the reload still works
    assert kept.getresponse().status == 200
    kept.close()
    assert tls_server.proc.poll() is None
    # the website listener serves TLS with the same certificate
    assert peer_serial(tls_server.web_port, pki.ca) == new


def test_bad_certificate_is_a_one_line_refusal(pki, tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    pki.issue(cert, key, "x")
    other_cert, other_key = tmp_path / "c2.pem", tmp_path / "k2.pem"
    pki.issue(other_cert, other_key, "y")
    res = subprocess.run([sys.executable, "-m", "coffer", "serve", "--data", str(tmp_path / "d"), "--workers", "1",
                          "--address", f"127.0.0.1:{free_port()}", "--tls-cert", str(cert), "--tls-key",
                          str(other_key)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "TLS" in res.stderr

"""TLS between gateways and storage nodes: nodes started with --tls-cert/--tls-key, gateways with
--cluster-ca. A gateway that trusts the CA reads and writes; one without it (plain HTTP) or with
another CA sees every node offline and says why, and refuses writes with 503."""

from __future__ import annotations

import datetime
import ipaddress
import json
from pathlib import Path

import pytest
from cluster_support import CLUSTER_SECRET, NodeProcess, ServerProcess, free_port
from helpers import client, data, unique

from coffer.sdk._client import Client


def _ca_and_cert(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signs for 127.0.0.1 (cryptography; nothing downloaded)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "node.pem", folder / "node.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def _admin(gw: ServerProcess, method: str, name: str) -> dict:
    c = Client(gw.endpoint, gw.access_key, gw.secret_key)
    try:
        return json.loads(c._transport.request(method, "_coffer", "admin/v1/" + name, retries=False).data)
    finally:
        c.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tls")
    ca, cert, key = _ca_and_cert(root / "pki", "cluster")
    other_ca, _, _ = _ca_and_cert(root / "other-pki", "stranger")
    data_dir = root / "gateway-data"
    meta = str(data_dir / "meta" / "cluster.sqlite3")
    nodes = [NodeProcess(f"node{i}", root / f"node{i}", meta, f"z{i}", volumes=1,
                         extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]) for i in range(2)]
    for n in nodes:
        n.start()
    try:
        yield {"nodes": nodes, "data": data_dir, "ca": ca, "other_ca": other_ca}
    finally:
        for n in nodes:
            n.stop()


def _gateway(data_dir: Path, *args: str) -> ServerProcess:
    gw = ServerProcess(data=data_dir, port=free_port(), extra_args=["--cluster-secret", CLUSTER_SECRET,
                                                                    "--heal-interval", "0", *args])
    gw.start()
    return gw


def test_gateway_trusting_the_ca_reads_and_writes_over_tls(tls) -> None:
    gw = _gateway(tls["data"], "--cluster-ca", str(tls["ca"]))
    try:
        vols = _admin(gw, "GET", "volumes")["volumes"]
        assert len(vols) == 2 and all(v["state"] == "online" for v in vols), vols
        s3 = client(gw.endpoint, gw.access_key, gw.secret_key)
        bucket = unique("tls")
        s3.create_bucket(Bucket=bucket)
        body = data(700_000, seed=7)
        s3.put_object(Bucket=bucket, Key="k", Body=body)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
        assert "https://" in tls["nodes"][0].log_text()
    finally:
        gw.stop()


@pytest.mark.parametrize("how", ["plain http", "another CA"])
def test_gateway_without_the_ca_sees_no_node(tls, how: str) -> None:
    args = [] if how == "plain http" else ["--cluster-ca", str(tls["other_ca"])]
    gw = _gateway(tls["data"], *args)
    try:
        vols = _admin(gw, "GET", "volumes")["volumes"]
        assert vols and all(v["state"] == "offline" for v in vols), vols
        if how == "another CA":
            assert all("CERTIFICATE_VERIFY_FAILED" in v["last_error"] for v in vols), vols
        s3 = client(gw.endpoint, gw.access_key, gw.secret_key)
        bucket = unique("notls")
        s3.create_bucket(Bucket=bucket)
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket=bucket, Key="x", Body=data(300_000))
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    finally:
        gw.stop()

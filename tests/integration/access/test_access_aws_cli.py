"""Access control with the aws CLI (`aws s3api`): policy, policy status, public access block, ACLs,
and the CLI's own error output for a refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from access_users import new_user


def _aws_binary() -> str | None:
    local = Path(sys.executable).with_name("aws")
    return str(local) if local.exists() else shutil.which("aws")


AWS = _aws_binary()
pytestmark = pytest.mark.skipif(AWS is None, reason="the aws CLI is not installed")


def _run(endpoint, user, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = home / "config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=user.access_key, AWS_SECRET_ACCESS_KEY=user.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(config), AWS_PAGER="",
               AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"), AWS_EC2_METADATA_DISABLED="true",
               HOME=str(home))
    assert AWS is not None
    return subprocess.run([AWS, "--endpoint-url", endpoint.url, "--output", "json", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_aws_cli_policy_pab_and_acl(endpoint, tmp_path):
    owner, other = new_user(endpoint), new_user(endpoint)
    name = f"cli-{uuid.uuid4().hex[:16]}"
    owner.s3.create_bucket(Bucket=name)
    try:
        doc = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]})
        r = _run(endpoint, owner, tmp_path, "s3api", "put-bucket-policy", "--bucket", name, "--policy", doc)
        assert r.returncode == 0, r.stderr
        r = _run(endpoint, owner, tmp_path, "s3api", "get-bucket-policy-status", "--bucket", name)
        assert json.loads(r.stdout)["PolicyStatus"]["IsPublic"] is True
        r = _run(endpoint, owner, tmp_path, "s3api", "put-public-access-block", "--bucket", name,
                 "--public-access-block-configuration", "BlockPublicPolicy=true,BlockPublicAcls=true")
        assert r.returncode == 0, r.stderr
        r = _run(endpoint, owner, tmp_path, "s3api", "put-bucket-acl", "--bucket", name, "--acl", "public-read")
        assert r.returncode != 0 and "AccessDenied" in r.stderr
        r = _run(endpoint, owner, tmp_path, "s3api", "get-bucket-acl", "--bucket", name)
        assert json.loads(r.stdout)["Owner"]["ID"] == owner.id
        r = _run(endpoint, other, tmp_path, "s3api", "get-bucket-policy", "--bucket", name)
        assert r.returncode != 0 and "AccessDenied" in r.stderr
    finally:
        owner.s3.delete_public_access_block(Bucket=name)
        owner.s3.delete_bucket_policy(Bucket=name)
        owner.s3.delete_bucket(Bucket=name)

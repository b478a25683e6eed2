"""S3 edge behaviours real clients rely on: ListBuckets pagination (max-buckets, continuation-token,
prefix), lifecycle rule ids over 255 characters and transitions with a bad date (400, before the
501 for transitions), and object tag sets over ten (InvalidTag) on PUT.
"""

from __future__ import annotations

import uuid

from helpers import s3_error


def test_list_buckets_pagination(s3):
    tag = uuid.uuid4().hex[:8]
    names = [f"lb-{tag}-{i}" for i in range(5)]
    for n in names:
        s3.create_bucket(Bucket=n)
    try:
        seen, token = [], None
        while True:
            kw = {"MaxBuckets": 2, "Prefix": f"lb-{tag}-"}
            if token:
                kw["ContinuationToken"] = token
            page = s3.list_buckets(**kw)
            assert len(page["Buckets"]) <= 2 and page["Prefix"] == f"lb-{tag}-"
            seen += [b["Name"] for b in page["Buckets"]]
            token = page.get("ContinuationToken")
            if not token:
                break
        assert seen == names
        assert [b["Name"] for b in s3.list_buckets(Prefix=f"lb-{tag}-3")["Buckets"]] == [names[3]]
        with s3_error("InvalidArgument", 400):
            s3.list_buckets(ContinuationToken="%%%")
    finally:
        for n in names:
            s3.delete_bucket(Bucket=n)


def test_lifecycle_rule_errors(s3, bucket):
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "x" * 256, "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]})
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""},
             "Transitions": [{"Date": "2030-01-01T10:00:00Z", "StorageClass": "GLACIER"}]}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "x" * 255, "Status": "Enabled", "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 1}}]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "x" * 255


def test_more_than_ten_tags_on_put(s3, bucket):
    with s3_error("InvalidTag", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))

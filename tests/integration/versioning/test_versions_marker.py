"""ListObjectVersions with a version-id-marker S3 does not know: a malformed one is refused with
InvalidArgument (as S3 does); a well-formed one whose version is gone (deleted between two pages)
resumes with the key's older versions instead of skipping them.
"""

from __future__ import annotations

from helpers import s3_error


def test_malformed_marker_refused(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    with s3_error("InvalidArgument", 400) as ei:
        s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker="not-a-version")
    assert ei.value.response["Error"]["Message"] == "Invalid version id specified"
    with s3_error("InvalidArgument", 400):
        s3.list_object_versions(Bucket=bucket, VersionIdMarker="null")  # without a key marker
    assert s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker="null").get("Versions") is None


def test_marker_of_deleted_version_resumes_after_it(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(4)]
    s3.put_object(Bucket=bucket, Key="z", Body=b"z")
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert [v["VersionId"] for v in page["Versions"]] == [ids[3], ids[2]]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[2])  # the marker's version disappears
    rest = s3.list_object_versions(Bucket=bucket, KeyMarker=page["NextKeyMarker"],
                                   VersionIdMarker=page["NextVersionIdMarker"])
    assert [(v["Key"], v["VersionId"]) for v in rest["Versions"]][:2] == [("k", ids[1]), ("k", ids[0])]
    assert [v["Key"] for v in rest["Versions"]] == ["k", "k", "z"]
    for v in s3.list_object_versions(Bucket=bucket)["Versions"]:
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])

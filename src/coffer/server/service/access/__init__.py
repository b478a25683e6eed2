"""Who may do what: users and keys, bearer tokens, quotas, the authorization decision, bucket policies,
ACLs, ownership controls and public access block.

Modules:
  accounts           User administration and quotas: what the admin API does, without HTTP.
  acl                Access control lists: canned ACLs, x-amz-grant-* headers, the AccessControlPolicy XML, ...
  bucket_policy      Bucket policies: parsing and validating the JSON document as S3 does, and evaluating it.
  decision           Authorization: may this caller do this action on this bucket or object?
  policy_conditions  Bucket-policy building blocks: wildcard matching, policy variables and the Condition operators.
  settings           Access-control settings of buckets and objects: ACLs, bucket policy, ownership controls, ...
  tokens             Bearer tokens Coffer issues (for AIStore clients): signed, expiring, revocable.
  users              Users and access keys: credential lookup for authentication, and user administration.
"""

"""WORM: S3 Object Lock and IBM COS immutable storage, and the rule every destroying path goes through.

Modules:
  ibm        IBM COS immutable storage operations: bucket protection, legal holds, retention extension.
  retention  S3 Object Lock and IBM COS immutable storage: configuration, per-version retention, legal holds.
  rule       WORM: which object versions are protected, and the guard every destroying path goes through.
"""

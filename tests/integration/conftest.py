"""Integration suites, one folder per front or domain (s3, access, worm, versioning, sse, events, ds3, ais,
oio, volumes, website, clients). The server fixtures live in tests/conftest.py; the support modules here
(helpers, rawhttp, access_users, ds3_wire, ec_support, webhook_receiver) are importable from every folder
because pytest puts this conftest's folder on sys.path.
"""

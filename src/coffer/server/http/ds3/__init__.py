"""The DS3 (Spectra S3) front: bulk jobs planned into chunks, blob transfers, DS3 signatures and error documents.

Modules:
  auth       DS3 (Spectra S3) request signatures: `Authorization: AWS <id>:<base64 HMAC-SHA1>`.
  documents  DS3 (Spectra S3) XML documents: what the bulk-job endpoints answer and how their bodies parse.
  front      The DS3 (Spectra S3) front: which requests are DS3's, their authentication, routing and errors.
  handlers   DS3 (Spectra S3) endpoint handlers: bulk jobs, job chunks, blobs, job lists, folders (ROUTES).
  management  DS3 (Spectra S3) management calls the SDK's helpers and tests use, answered from Coffer's own state:
  request    What a DS3 handler gets: the request, who sent it, the decoded path and the query.
"""

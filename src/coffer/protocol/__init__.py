"""coffer.protocol: the pure S3 wire layer shared by the server (verifying) and the SDK (signing).

No I/O, no aiohttp, no imports from coffer.server/sdk/cli (import-linter enforces it).  Modules:

* :mod:`.checksums` - x-amz-checksum-* algorithms, Content-MD5, multipart composite/full-object CRCs
* :mod:`.sigv4` - Signature Version 4 (canonical request, keys, header/presigned parsing, client signing)
* :mod:`.sigv2` - Signature Version 2 for older clients
* :mod:`.chunked` - incremental aws-chunked body decoding with chunk/trailer signature checks
* :mod:`.xmlutil` - safe XML parsing and fast response serialisation
* :mod:`.errors` - the S3 error catalogue and S3Error
* :mod:`.timeutil` - x-amz-date, HTTP-date and ISO 8601 formats

Modules and packages:
  batch_tar    The batch GET's answer: a pax tar, one member per object with COFFER.* records; writer and ...
  checksums    S3 payload checksums: the x-amz-checksum-* algorithms, Content-MD5, and multipart combination.
  chunked      aws-chunked request bodies (the STREAMING-* x-amz-content-sha256 modes): incremental, bounded decoding.
  errors       The S3 error catalogue and the S3Error exception, shared by the server (to answer) and the SDK (to ...
  msgpack      A MessagePack encoder for the few shapes the AIStore API answers in (object listings).
  node_auth    Request signatures between Coffer's gateways and storage nodes (the cluster secret).
  post_policy  Browser-based uploads (POST Object): the policy document, its signature and its conditions.
  sigv2        AWS Signature Version 2 for S3 (HMAC-SHA1), still used by older clients and tools.
  sigv4        AWS Signature Version 4 for S3: canonical forms, keys, header/presigned parsing, and client signing.
  snowball     Many small objects in one PUT (MinIO's "snowball" auto-extract): header names, Coffer's pax keys.
  template     Object-name templates: bash-style brace expansion, as AIStore's multi-object operations take them.
  timeutil     Timestamp formats on the S3 wire: x-amz-date, HTTP dates, and ISO 8601 as S3 writes it in XML.
  xmlutil      S3 XML: safe parsing of request bodies and a fast builder for response bodies.
"""

from coffer.protocol.checksums import (
    ALGORITHMS,
    Hasher,
    algo_from_header,
    combine_full,
    composite,
    content_md5_ok,
    decode_b64_checksum,
    header_name,
    parse_content_md5,
)
from coffer.protocol.chunked import AwsChunkedDecoder, ChunkedError
from coffer.protocol.errors import ERRORS, ErrorSpec, S3Error, parse_error_xml
from coffer.protocol.sigv4 import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthHeader,
    PresignedQuery,
    SigV4ParseError,
    parse_authorization,
    parse_presigned,
    presign_url,
    sign_headers,
)
from coffer.protocol.timeutil import amz_date, http_date, iso8601, parse_amz_date, parse_http_date
from coffer.protocol.xmlutil import S3_NS, XmlError, to_xml

__all__ = [
    "ALGORITHMS",
    "EMPTY_SHA256",
    "ERRORS",
    "S3_NS",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "AuthHeader",
    "AwsChunkedDecoder",
    "ChunkedError",
    "ErrorSpec",
    "Hasher",
    "PresignedQuery",
    "S3Error",
    "SigV4ParseError",
    "XmlError",
    "algo_from_header",
    "amz_date",
    "combine_full",
    "composite",
    "content_md5_ok",
    "decode_b64_checksum",
    "header_name",
    "http_date",
    "iso8601",
    "parse_amz_date",
    "parse_authorization",
    "parse_content_md5",
    "parse_error_xml",
    "parse_http_date",
    "parse_presigned",
    "presign_url",
    "sign_headers",
    "to_xml",
]

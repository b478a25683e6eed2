"""IBM Cloud IAM's token endpoint on the S3 address, for ibm_boto3 with API keys.

ibm_boto3 (`ibm_api_key_id`, `Config(signature_version="oauth")`) posts a form to its
`ibm_auth_endpoint` (IBM's own path `/identity/token`, so a configuration only swaps the host):
`grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=...`, later `grant_type=refresh_token`,
with a fixed `Authorization: Basic Yng6Yng=`. The answer is IAM's JSON: `access_token`,
`refresh_token`, `token_type`, `expires_in`, `expiration`. The access token is one of Coffer's
bearer tokens (service/access/tokens.py: signed, expiring, revocable) that the S3 front accepts as
`Authorization: Bearer`; the refresh token only buys new tokens. Errors are IAM's JSON errors.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.http.common.body import read_small_body
from coffer.server.http.common.context import Ctx, handles
from coffer.server.service.access.tokens import TokenError

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
ACCESS_SECONDS = 3600  # IAM's access tokens live an hour
REFRESH_SECONDS = 30 * 86400


def _iam_error(status: int, code: str, message: str) -> web.Response:
    body = {"errorCode": code, "errorMessage": message, "context": {"requestId": "", "requestType": "token"}}
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


@handles("IamToken")
async def token(ctx: Ctx) -> web.StreamResponse:
    body = await read_small_body(ctx.request, ctx.plan, 64 * 1024, checksum_headers=False)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    grant = form.get("grant_type", "")
    try:
        if grant == APIKEY_GRANT:
            if not form.get("apikey"):
                return _iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
            who = await ctx.svc.users.api_key(form["apikey"])
        elif grant == "refresh_token":
            who = await ctx.svc.tokens.refresh(form.get("refresh_token", ""))
        else:
            return _iam_error(400, "BXNIM0109E", f"Unsupported grant type: {grant or '(none)'}")
    except S3Error:
        return _iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
    except TokenError as e:
        return _iam_error(400, "BXNIM0407E", f"The refresh token was refused: {e}")
    access, info = await ctx.svc.tokens.issue(who.user_id, ACCESS_SECONDS)
    refresh, _ = await ctx.svc.tokens.issue(who.user_id, REFRESH_SECONDS, use="refresh")
    doc = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
           "expires_in": ACCESS_SECONDS, "expiration": int(info.expires or time.time() + ACCESS_SECONDS),
           "scope": "ibm openid", "ims_user_id": who.user_id}
    return web.Response(body=json.dumps(doc).encode(), content_type="application/json",
                        headers={"Cache-Control": "no-store"})

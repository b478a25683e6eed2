"""Webhook delivery: sends queued notification events, retrying until the receiver takes them.

Owns the delivery loop each worker process runs. Events wait in the metadata store's persistent
queue (`meta/sqlite/events.py`); the loop claims due events with a lease (so several workers never
send the same event at once), POSTs each as S3's JSON event document (`{"Records": [...]}`) and
deletes it once the receiver answers 2xx. On failure (connection refused, timeout, non-2xx) the
event is rescheduled with exponential backoff (`Limits.webhook_retry_min` doubling up to
`webhook_retry_max`), forever: a receiver that is down for a while gets every event once it is
back, and a server restart loses none (the queue is in SQLite; a lease left by a killed worker
expires and the event is sent again: delivery is at-least-once, each record carries a `sequencer`).

Events for one URL are sent in queue order; after a failure the rest of that URL's batch waits for
the retry too, so a receiver that comes back sees them in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp

from coffer.server.config import Limits
from coffer.server.meta.interface import MetaUnavailable
from coffer.server.service import Service
from coffer.server.service.events.notifications import PROPS_KEY, recover_held
from coffer.server.service.events.webhook_security import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    destination_error,
    networks,
    sign,
)

log = logging.getLogger("coffer.webhooks")

BATCH = 64
# Intents older than this are resolved by the running workers (a worker that died mid-request and
# was replaced by the supervisor left them); younger ones may belong to requests still running.
INTENT_GRACE = 600.0


class WebhookDelivery:
    def __init__(self, service: Service, limits: Limits) -> None:
        self.service = service
        self.limits = limits
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self._nets = networks(limits.webhook_allow)

    def start(self) -> None:
        self.service.notifier.listeners.append(self._wake.set)
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.limits.webhook_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + INTENT_GRACE / 10
        while True:
            if loop.time() >= next_sweep:
                next_sweep = loop.time() + INTENT_GRACE / 10
                try:
                    await recover_held(self.service.core.meta, self.service.core.region, INTENT_GRACE)
                except MetaUnavailable as exc:
                    log.warning("resolving old notification intents postponed: %s", exc)
                except Exception:
                    log.exception("resolving old notification intents failed")
            try:
                sent = await self.deliver_once()
            except asyncio.CancelledError:
                raise
            except MetaUnavailable as exc:  # the database is away: try again at the next poll
                log.warning("webhook delivery pass postponed: %s", exc)
                sent = 0
            except Exception:
                log.exception("webhook delivery pass failed")
                sent = 0
            if sent == 0:
                # Idle: wait for a local enqueue or poll (other workers' events, due retries).
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.limits.webhook_poll)
                except TimeoutError:
                    pass

    async def deliver_once(self) -> int:
        """One pass: claim due events and send them; returns how many were claimed.

        The lease is three attempt timeouts long and an event is only sent while at least two of
        them remain, so no other worker can claim it while it is being sent. Events left when the
        pass stops early (lease running out, shutdown) are released for the next pass."""
        meta = self.service.core.meta
        loop = asyncio.get_running_loop()
        lease = 3 * self.limits.webhook_timeout
        claimed_at = loop.time()
        events = await meta.claim_events(BATCH, lease)
        secrets: dict[tuple[str, str], str | None] = {}  # (bucket, configuration id) -> signing secret
        refused: dict[str, str | None] = {}  # url -> why it may not be delivered to (one DNS lookup a pass)
        failed: dict[str, float] = {}  # url -> delay for the rest of its events in this batch
        i = 0
        try:
            while i < len(events) and loop.time() - claimed_at < lease / 3:
                ev = events[i]
                if ev.target in failed:
                    await meta.event_retry(ev.id, failed[ev.target], "")
                    i += 1
                    continue
                error = await self._post(ev.target, ev.payload, await self._secret(ev.payload, secrets), refused)
                if error is None:
                    await meta.event_done(ev.id)
                    self.delivered += 1
                else:
                    delay = min(self.limits.webhook_retry_max,
                                self.limits.webhook_retry_min * (2 ** min(ev.attempts, 30)))
                    failed[ev.target] = delay
                    log.info("webhook %s failed (%s); retry in %.1fs", ev.target, error, delay)
                    await meta.event_retry(ev.id, delay, error)
                i += 1
        finally:
            # Shutdown (cancellation) or a lease running short: hand the rest back at once rather
            # than leave them leased (a restart would otherwise wait for the leases to expire).
            for ev in events[i:]:
                await meta.event_retry(ev.id, 0.0, "")
        return len(events)

    async def _secret(self, payload: dict, cache: dict[tuple[str, str], str | None]) -> str | None:
        """The secret of the configuration the event was queued for (read now: a re-put keeps it)."""
        try:
            s3 = payload["Records"][0]["s3"]
            where = (s3["bucket"]["name"], s3["configurationId"])
        except (KeyError, IndexError, TypeError):
            return None
        if where not in cache:
            bucket = await self.service.core.meta.get_bucket(where[0])
            configs = (bucket.props.get(PROPS_KEY) or []) if bucket is not None else []
            cache[where] = next((c.get("secret") for c in configs if c["id"] == where[1]), None)
        return cache[where]

    async def _post(self, url: str, payload: dict, secret: str | None = None,
                    refused: dict[str, str | None] | None = None) -> str | None:
        assert self._session is not None
        refused = {} if refused is None else refused
        if url not in refused:
            refused[url] = await destination_error(url, self._nets)
        why = refused[url]
        if why is not None:  # checked again at each delivery: DNS may have moved the host meanwhile
            return f"destination refused: {why}"
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Coffer-Notifications"}
        if secret:
            stamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(stamp)
            headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as r:
                await r.read()
                return None if 200 <= r.status < 300 else f"HTTP {r.status}"
        except Exception as e:  # anything (refused, timeout, bad URL, ...) is a failed attempt to retry
            return f"{type(e).__name__}: {e}"

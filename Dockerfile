# Coffer in a container: docs/operations.md ("Container").
#   docker build -t coffer .
#   docker run -d -p 9000:9000 -v coffer-data:/data \
#     -e COFFER_ACCESS_KEY=admin -e COFFER_SECRET_KEY=change-me-please coffer
# Every `coffer serve` flag is also a COFFER_* environment variable, or a line of /etc/coffer/coffer.toml.
FROM python:3.11-slim

# pyeclib's manylinux wheel bundles liberasurecode and ISA-L: no system package is needed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . uvloop && rm -rf /src

# A fixed non-root user; the data volume belongs to it.
RUN groupadd --system --gid 10001 coffer \
 && useradd --system --uid 10001 --gid coffer --home-dir /data --shell /usr/sbin/nologin coffer \
 && mkdir -p /data /etc/coffer && chown coffer:coffer /data
USER coffer:coffer
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9000

ENV COFFER_DATA=/data \
    COFFER_ADDRESS=0.0.0.0:9000 \
    PYTHONUNBUFFERED=1

# /health/ready answers 200 without credentials once the workers serve (and 503 while stopping).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, ssl, sys, urllib.request as u; tls = os.path.exists('/data/certs/public.crt') or bool(os.environ.get('COFFER_TLS_CERT')); ctx = ssl._create_unverified_context() if tls else None; sys.exit(0 if u.urlopen(('https' if tls else 'http') + '://127.0.0.1:9000/health/ready', timeout=2, context=ctx).status == 200 else 1)"]

# SIGTERM (docker stop) drains in-flight requests for --shutdown-grace seconds (default 20):
# give `docker stop -t 30` or stop_grace_period: 30s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["coffer", "serve"]

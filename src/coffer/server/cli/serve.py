"""`coffer serve`: run the server (options, environment variables, config file, defaults).

Every option can come from four places; the first that gives it wins:
the command line, then its environment variable (`COFFER_` + the option's name in capitals, dashes as
underscores, e.g. `--scrub-rate` -> `COFFER_SCRUB_RATE`), then the TOML file given with `--config` (or
`COFFER_CONFIG`; keys are the option names, `scrub-rate` or `scrub_rate`), then the default. This is
click's own order (command line > envvar > default_map > default): the config file becomes the
command's default_map. Repeatable options take a TOML array, or a space-separated environment value.
`--print-config` prints the effective configuration (secrets masked) as TOML and exits.

The server's commands live with the server (the client CLI in coffer.cli never imports the server); the
composition root, coffer.entry, adds them to the one `coffer` command.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from coffer.server.cli import json_option, wants_json
from coffer.server.config import Config, Limits, parse_address
from coffer.server.service.events.webhook_security import networks

SECRET_OPTIONS = frozenset({"secret_key", "cluster_secret", "metrics_token", "meta_url"})  # a URL may hold a password
# Not configuration: never read from the file, never printed.
_NOT_SETTINGS = frozenset({"config", "print_config"})


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        _, port = parse_address(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", ctx, param) from None
    if not 0 <= port <= 65535:
        raise click.BadParameter(f"port {port} is out of range", ctx, param)
    return value


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Eager: read the TOML file before the other options are resolved and make it their default_map."""
    if not value:
        return value
    try:
        with open(value, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise click.BadParameter(f"cannot read {value}: {e.strerror}", ctx, param) from None
    except tomllib.TOMLDecodeError as e:
        raise click.BadParameter(f"{value} is not valid TOML: {e}", ctx, param) from None
    # the option's name ("scrub-rate" or "scrub_rate") -> its parameter ("scrub_rate"; "domain" -> "domains")
    known = {p.opts[0].lstrip("-").replace("-", "_"): p.name for p in ctx.command.params
             if isinstance(p, click.Option) and p.name and p.name not in _NOT_SETTINGS}
    settings: dict[str, Any] = {}
    for key, val in doc.items():
        name = known.get(key.replace("-", "_"))
        if name is None:
            names = ", ".join(sorted(k.replace("_", "-") for k in known))
            raise click.BadParameter(f"{value}: unknown setting {key!r} (known: {names})", ctx, param)
        settings[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **settings}
    return value


class _OneLineErrors(click.Command):
    """Usage errors of `coffer serve` as one line (`Error: ...`), without the usage block."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            e.ctx = None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            e.ctx = None
            raise


def _env(name: str) -> str:
    return "COFFER_" + name.upper().replace("-", "_")


@click.command("serve", cls=_OneLineErrors)
@click.option("--config", envvar="COFFER_CONFIG", is_eager=True, callback=_load_config, expose_value=False,
              type=click.Path(dir_okay=False), help="TOML file of settings (keys are the option names).")
@click.option("--print-config", is_flag=True, help="Print the effective configuration (secrets masked) and exit.")
@click.option("--data", "data", envvar="COFFER_DATA", default="./coffer-data", show_default=True,
              help="Data folder (metadata and object data).")
@click.option("--meta", "meta_url", envvar="COFFER_META", default=None, metavar="URL",
              help="Metadata database: postgresql://USER@HOST:PORT/DB (shared by gateways). Default: SQLite in DATA.")
@click.option("--address", envvar="COFFER_ADDRESS", default="127.0.0.1:9000", show_default=True,
              callback=_address, help="HOST:PORT to listen on.")
@click.option("--access-key", envvar="COFFER_ACCESS_KEY", default=None,
              help="Root access key, used to create the root user on a new data folder.")
@click.option("--secret-key", envvar="COFFER_SECRET_KEY", default=None, help="Root secret key (see --access-key).")
@click.option("--workers", envvar="COFFER_WORKERS", type=click.IntRange(1, 1024), default=None,
              help="Worker processes (default: number of cores).")
@click.option("--region", envvar="COFFER_REGION", default="us-east-1", show_default=True)
@click.option("--domain", "domains", envvar="COFFER_DOMAIN", multiple=True,
              help="Domain for virtual-host-style requests (bucket.DOMAIN); repeatable. Default: localhost.")
@click.option("--loop", envvar="COFFER_LOOP", type=click.Choice(["asyncio", "uvloop"]), default="asyncio",
              show_default=True, help="Event loop; asyncio keeps sendfile for GET (see bench/RESULTS.md).")
@click.option("--inline-max", envvar="COFFER_INLINE_MAX", type=click.IntRange(0, 1024 * 1024),
              default=Limits().inline_threshold,
              show_default=True, help="Objects up to this many bytes are kept inline in the metadata.")
@click.option("--shutdown-grace", envvar="COFFER_SHUTDOWN_GRACE", type=click.FloatRange(0, 3600),
              default=Limits().shutdown_grace_seconds,
              show_default=True, help="Seconds in-flight requests may take to finish after SIGTERM.")
@click.option("--lifecycle-day-seconds", envvar="COFFER_LIFECYCLE_DAY_SECONDS", type=click.FloatRange(0.1, 86400 * 366),
              default=86400.0, show_default=True,
              help="Length of a lifecycle day in seconds (shorter for tests and demos).")
@click.option("--website-address", envvar="COFFER_WEBSITE_ADDRESS", default=None, callback=_address,
              help="HOST:PORT of a listener serving static websites only.")
@click.option("--console-address", envvar="COFFER_CONSOLE_ADDRESS", default=None, callback=_address,
              help="HOST:PORT of a listener serving only the web console.")
@click.option("--website-domain", "website_domains", envvar="COFFER_WEBSITE_DOMAIN", multiple=True,
              help="Host suffix of website requests (bucket.SUFFIX); repeatable. Default: s3-website.localhost.")
@click.option("--webhook-retry-max", envvar="COFFER_WEBHOOK_RETRY_MAX", type=click.FloatRange(0.01, 86400),
              default=Limits().webhook_retry_max, show_default=True,
              help="Longest wait, in seconds, between retries of a failed notification webhook delivery.")
@click.option("--webhook-allow", "webhook_allow", envvar="COFFER_WEBHOOK_ALLOW", multiple=True, metavar="CIDR",
              help="Network webhooks may be delivered to; repeatable. Default: loopback and private ranges.")
@click.option("--volume", "volumes", envvar="COFFER_VOLUME", multiple=True, type=click.Path(file_okay=False),
              help="A data volume directory (normally one per disk); repeatable. None: the data folder.")
@click.option("--scrub-rate", envvar="COFFER_SCRUB_RATE", type=click.FloatRange(0), default=64.0, show_default=True,
              help="MiB/s the background scrubber may read (0: unlimited).")
@click.option("--scrub-interval", envvar="COFFER_SCRUB_INTERVAL", type=click.FloatRange(1), default=7 * 24 * 3600.0,
              show_default=True, help="Seconds between the starts of two scrub passes.")
@click.option("--heal-interval", envvar="COFFER_HEAL_INTERVAL", type=click.FloatRange(0), default=2.0,
              show_default=True,
              help="Seconds between two looks at the repair queue; 0 turns background healing and scrubbing off.")
@click.option("--gc-pending-age", envvar="COFFER_GC_PENDING_AGE", type=click.FloatRange(1), default=3600.0,
              show_default=True,
              help="Seconds after which data of an upload whose writer stopped refreshing it (a killed gateway) "
                   "is garbage.")
@click.option("--gc-interval", envvar="COFFER_GC_INTERVAL", type=click.FloatRange(0), default=6 * 3600.0,
              show_default=True,
              help="Cluster gateways: seconds between two sweeps of every ref for unreferenced data (0: never).")
@click.option("--cluster-secret", envvar="COFFER_CLUSTER_SECRET", default=None,
              help="Shared secret of the storage nodes; without --volume, data goes to the cluster map's nodes.")
@click.option("--cluster-map", envvar="COFFER_CLUSTER_MAP", default=None,
              help="Cluster map: postgresql://... or a SQLite path (default: the --meta database, else "
                   "DATA/meta/cluster.sqlite3).")
@click.option("--cluster-ca", envvar="COFFER_CLUSTER_CA", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Reach the storage nodes over TLS, verifying their certificates with this CA bundle (PEM).")
@click.option("--idle-timeout", envvar="COFFER_IDLE_TIMEOUT", type=click.FloatRange(1, 86400),
              default=Limits().idle_timeout, show_default=True,
              help="Seconds a connection may stay idle, or take to send a request's head, before it is closed.")
@click.option("--body-timeout", envvar="COFFER_BODY_TIMEOUT", type=click.FloatRange(1, 86400),
              default=Limits().body_timeout, show_default=True,
              help="Seconds a request may wait for the next bytes of its body before the connection is closed.")
@click.option("--max-connections", envvar="COFFER_MAX_CONNECTIONS", type=click.IntRange(1),
              default=Limits().max_connections, show_default=True,
              help="Open connections per worker; more are closed at once.")
@click.option("--metrics-token", envvar="COFFER_METRICS_TOKEN", default=None,
              help="Bearer token GET /metrics requires (Authorization: Bearer TOKEN); unset: /metrics is public.")
@click.option("--min-free", envvar="COFFER_MIN_FREE", type=click.FloatRange(0),
              default=Limits().min_free_bytes / 2**20, show_default=True,
              help="MiB the data folder's disk keeps free: below it new data is refused (507), deletes still work.")
@click.option("--master-key-file", envvar="COFFER_MASTER_KEY_FILE", type=click.Path(dir_okay=False), default=None,
              help="File holding the SSE master key (keep it outside the data folder; docs/operations.md).")
@click.option("--tls-cert", envvar="COFFER_TLS_CERT", type=click.Path(dir_okay=False), default=None,
              help="PEM certificate chain: serve HTTPS. Default: DATA/certs/public.crt when it exists.")
@click.option("--tls-key", envvar="COFFER_TLS_KEY", type=click.Path(dir_okay=False), default=None,
              help="PEM private key of --tls-cert. Default: DATA/certs/private.key.")
@click.option("--allow-insecure-secrets", envvar="COFFER_ALLOW_INSECURE_SECRETS", is_flag=True, default=False,
              help="Accept SSE-C keys and bearer tokens over plain HTTP from non-loopback clients.")
@click.option("--log-level", envvar="COFFER_LOG_LEVEL", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@click.option("--access-log/--no-access-log", envvar="COFFER_ACCESS_LOG", default=True, show_default=True,
              help="One INFO line per request on the coffer.access logger.")
@click.option("--log-format", envvar="COFFER_LOG_FORMAT", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="Log lines as text or as one JSON object each.")
@json_option
@click.pass_context
def serve_cmd(ctx: click.Context, print_config: bool, as_json: bool, **opts: Any) -> None:
    """Run the Coffer S3 server."""
    if wants_json(as_json):  # `coffer serve --json` / `coffer --json serve`: the start lines and logs as JSON
        opts["log_format"] = "json"
    if print_config:
        click.echo(effective_config(ctx, opts), nl=False)
        return
    if bool(opts["access_key"]) != bool(opts["secret_key"]):
        raise click.UsageError("give both --access-key and --secret-key, or neither")
    if opts["meta_url"] and not opts["meta_url"].startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("a postgresql://USER@HOST:PORT/DB URL", param_hint="--meta")
    try:
        networks(opts["webhook_allow"])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--webhook-allow") from None
    if bool(opts["tls_cert"]) != bool(opts["tls_key"]):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    if opts["master_key_file"]:
        # crypto/keys.py reads the variable, in every worker (they inherit the environment)
        os.environ["COFFER_MASTER_KEY_FILE"] = str(Path(opts["master_key_file"]).resolve())
    from coffer.server.metrics import cleanup_multiprocess, prepare_multiprocess

    prepare_multiprocess()  # before anything imports prometheus_client (server/metrics.py)
    from coffer.server.runner import serve

    try:
        code = serve(build_config(opts))
    finally:
        cleanup_multiprocess()
    raise SystemExit(code)


def build_config(opts: dict[str, Any]) -> Config:
    host, port = parse_address(opts["address"])
    web_host, web_port = parse_address(opts["website_address"]) if opts["website_address"] else (None, None)
    con_host, con_port = parse_address(opts["console_address"]) if opts["console_address"] else (None, None)
    data = Path(opts["data"])
    cert, key = opts["tls_cert"], opts["tls_key"]
    if not cert and (data / "certs" / "public.crt").exists():  # MinIO's layout
        cert, key = data / "certs" / "public.crt", data / "certs" / "private.key"
    retry_max = opts["webhook_retry_max"]
    return Config(website_host=web_host, website_port=web_port, console_host=con_host, console_port=con_port,
                  cluster_secret=opts["cluster_secret"], cluster_map=opts["cluster_map"],
                  meta_url=opts["meta_url"] or None, cluster_ca=opts["cluster_ca"],
                  website_domains=tuple(opts["website_domains"]) or ("s3-website.localhost",),
                  data_dir=data, host=host, port=port, region=opts["region"],
                  workers=opts["workers"] or os.cpu_count() or 1, access_key=opts["access_key"],
                  secret_key=opts["secret_key"], domains=tuple(opts["domains"]) or ("localhost",), loop=opts["loop"],
                  lifecycle_day_seconds=opts["lifecycle_day_seconds"],
                  limits=Limits(inline_threshold=opts["inline_max"], shutdown_grace_seconds=opts["shutdown_grace"],
                                webhook_retry_max=retry_max, webhook_allow=tuple(opts["webhook_allow"]),
                                webhook_retry_min=min(Limits().webhook_retry_min, retry_max),
                                min_free_bytes=int(opts["min_free"] * 2**20),
                                idle_timeout=opts["idle_timeout"], body_timeout=opts["body_timeout"],
                                max_connections=opts["max_connections"],
                                pending_ref_age=opts["gc_pending_age"], gc_interval=opts["gc_interval"],
                                meta_reserve_bytes=min(Limits().meta_reserve_bytes,
                                                       int(opts["min_free"] * 2**20) // 4)),
                  volumes=tuple(Path(v) for v in opts["volumes"]), scrub_rate=opts["scrub_rate"] * 1024 * 1024,
                  scrub_interval=opts["scrub_interval"], heal_interval=opts["heal_interval"],
                  tls_cert=Path(cert) if cert else None, tls_key=Path(key) if key else None,
                  allow_insecure_secrets=opts["allow_insecure_secrets"],
                  log_level=opts["log_level"].lower(), log_format=opts["log_format"],
                  metrics_token=opts["metrics_token"], access_log=opts["access_log"])


_SOURCES = {ParameterSource.COMMANDLINE: "command line", ParameterSource.ENVIRONMENT: "environment",
            ParameterSource.DEFAULT_MAP: "config file", ParameterSource.DEFAULT: "default"}


def effective_config(ctx: click.Context, opts: dict[str, Any]) -> str:
    """The settings as a TOML document (usable as --config), each with where its value came from."""
    lines = ["# coffer serve: effective configuration (flag > environment > config file > default)\n"]
    for param in ctx.command.params:
        name = param.name
        if not name or name in _NOT_SETTINGS or not isinstance(param, click.Option):
            continue
        value = opts.get(name)
        source = _SOURCES.get(ctx.get_parameter_source(name), "default")  # type: ignore[arg-type]
        key = param.opts[0].lstrip("-")
        if value is None or (isinstance(value, tuple) and not value and source == "default"):
            lines.append(f"# {key} =   (unset; {_env(key)})\n")
            continue
        if name in SECRET_OPTIONS:
            value = "********"
        if isinstance(value, tuple):
            value = list(value)
        lines.append(f"{key} = {json.dumps(value)}  # {source}; {_env(key)}\n")
    return "".join(lines)

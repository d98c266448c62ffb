"""The ``segur-sandbox`` command: serve, db upgrade/downgrade/current, seed, version (and domains' own)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from app import __version__
from app.config import Settings, SettingsError, load_settings

# CLI option -> settings field; given options override the environment.
SERVE_OPTIONS = {
    "host": "http_host", "port": "http_port", "smtp_host": "smtp_host", "smtp_port": "smtp_port",
    "database_url": "database_url", "base_url": "public_base_url", "log_level": "log_level",
    "log_format": "log_format",
}


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {field: getattr(args, option) for option, field in SERVE_OPTIONS.items()
                 if getattr(args, option, None) is not None}
    settings = load_settings(**overrides)
    # uvicorn workers build their own app from the environment: hand them the same values.
    for field, value in overrides.items():
        os.environ[f"SEGUR_{field.upper()}"] = str(value)
    return settings


def _run(coroutine_factory: Callable[[Settings], Coroutine[Any, Any, Any]], args: argparse.Namespace) -> Any:
    return asyncio.run(coroutine_factory(_settings(args)))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    refusal = asyncio.run(_store_refusal(settings))
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    if settings.public_base_url == "http://localhost:8000" and settings.http_port != 8000:
        os.environ["SEGUR_PUBLIC_BASE_URL"] = f"http://localhost:{settings.http_port}"
    imap = ""
    if settings.mss_imap_enabled:
        imap = f", IMAP {settings.mss_imap_host or settings.smtp_host}:{settings.mss_imap_port}"
        if settings.mss_imap_tls_port is not None:
            imap += f" (implicit TLS :{settings.mss_imap_tls_port})"
    print(f"Ségur Sandbox {__version__}: http://{settings.http_host}:{settings.http_port} "
          f"(docs at /docs), SMTP {settings.smtp_host}:{settings.smtp_port}{imap}, store {_safe_url(settings)}",
          file=sys.stderr)
    uvicorn.run(
        "app.main:create_app", factory=True, host=settings.http_host, port=settings.http_port,
        workers=args.workers, log_level=settings.log_level.lower(), access_log=False,
        proxy_headers=True, server_header=False,
        ws="none",  # no WebSocket route: skip loading a WebSocket stack (~0.1 s of start-up)
    )
    return 0


async def _store_refusal(settings: Settings) -> str | None:
    """Why the store cannot serve, in one line (``[database] ...``), before uvicorn starts: a refusal from
    the application's start-up would reach the operator wrapped in uvicorn's traceback. The lifespan checks
    again (the application is also started without this command, e.g. by ``uvicorn --factory``)."""
    if settings.is_fresh_sqlite_store and settings.migrate_on_start:
        return None  # nothing there yet, and the first start migrates it
    from sqlalchemy.exc import DBAPIError

    from app.db import SchemaNotCurrent, check_schema, create_engine

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await check_schema(engine, migrating=settings.migrate_on_start)
    except SchemaNotCurrent as exc:
        return str(exc)
    except (DBAPIError, OSError, TimeoutError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        detail = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
        return f"[database] {_safe_url(settings)}: cannot be opened ({detail})"
    finally:
        await engine.dispose()
    return None


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


async def _upgrade(settings: Settings, revision: str = "heads") -> None:
    from app.db import check_schema, create_engine, upgrade

    engine = create_engine(settings.database_url)
    try:
        await check_schema(engine, migrating=True)  # a store ahead of these scripts: one line, not Alembic's traceback
        await upgrade(engine, revision)
    finally:
        await engine.dispose()


async def _downgrade(settings: Settings, revision: str) -> None:
    from app.db import create_engine, downgrade

    engine = create_engine(settings.database_url)
    try:
        await downgrade(engine, revision)
    finally:
        await engine.dispose()


async def _current(settings: Settings) -> set[str]:
    from app.db import create_engine, current_revisions

    engine = create_engine(settings.database_url)
    try:
        return await current_revisions(engine)
    finally:
        await engine.dispose()


class UnknownTenant(Exception):
    """``--tenant`` names a tenant the store does not have."""


def _tenant_base(base: str, tenant: str | None) -> str:
    """A sandbox's base URL in ``tenant`` (``--tenant``): ``<base>/t/<tenant>``; unchanged without one (a
    ``--url`` that already ends with ``/t/<tenant>`` is a tenant's base URL as it is)."""
    from app.tenancy import tenant_prefix

    return base + tenant_prefix(tenant) if tenant else base


TENANT_HELP = "a tenant's name: its world at <url>/t/<tenant> (or give the tenant's base URL as --url)"


def _tenant_name(value: str) -> str:
    """argparse type of ``--tenant``: a tenant's name (``default`` is the world without a prefix)."""
    from app.tenancy import is_valid_tenant_name

    if not is_valid_tenant_name(value):
        raise argparse.ArgumentTypeError(f"{value!r}: a tenant's name is 1-40 lower-case letters, digits and inner "
                                         "hyphens")
    return value


async def _seed(settings: Settings, reset: bool, ins_files: Sequence[str] = (), tenant: str | None = None) -> None:
    from app.tenancy import DEFAULT_TENANT, use_tenant

    with use_tenant(tenant or DEFAULT_TENANT):
        await _seed_tenant(settings, reset, ins_files)


async def _seed_tenant(settings: Settings, reset: bool, ins_files: Sequence[str]) -> None:
    from app.api.models import Tenant
    from app.api.store import reset_store, seed_store
    from app.db import Base, create_engine, create_sessionmaker
    from app.domains import import_models, load_domains
    from app.tenancy import DEFAULT_TENANT, current_tenant, install_tenant_guard, tenant_tables

    engine = create_engine(settings.database_url)
    import_models()
    install_tenant_guard(engine.sync_engine, {table.name for table in tenant_tables(Base.metadata)})
    try:
        domains = load_domains()
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = current_tenant()
            if tenant != DEFAULT_TENANT and await session.get(Tenant, tenant) is None:
                raise UnknownTenant(f"no tenant {tenant!r} in this store: create it first "
                                    "(POST /sandbox/v1/tenants)")
            if reset:
                await reset_store(session, settings, domains)
            else:
                await seed_store(session, settings, domains)
            if ins_files:
                from app.ins.service import load_fixture_file

                for path in ins_files:
                    added = await load_fixture_file(session, path)
                    print(f"{path}: {added}", file=sys.stderr)
    finally:
        await engine.dispose()


def cmd_db(args: argparse.Namespace) -> int:
    if args.db_command == "upgrade":
        from app.db import SchemaNotCurrent

        try:
            _run(lambda s: _upgrade(s, args.revision), args)
        except SchemaNotCurrent as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"database upgraded to {args.revision}", file=sys.stderr)
    elif args.db_command == "downgrade":
        _run(lambda s: _downgrade(s, args.revision), args)
        print(f"database downgraded to {args.revision}", file=sys.stderr)
    else:
        from app.db import head_revisions

        current = _run(_current, args)
        heads = head_revisions()
        print(" ".join(sorted(current)) or "(empty)")
        if current != heads:
            print(f"not at head: run `segur-sandbox db upgrade` (heads: {' '.join(sorted(heads))})",
                  file=sys.stderr)
            return 1
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    import json

    from pydantic import ValidationError

    try:
        _run(lambda s: _seed(s, args.reset, args.ins_file or (), args.tenant), args)
    except UnknownTenant as exc:
        print(f"segur-sandbox seed: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        print(f"segur-sandbox seed: fixture file refused, nothing loaded\n{exc}", file=sys.stderr)
        return 2
    where = f" in tenant {args.tenant}" if args.tenant else ""
    print("fixtures loaded" + where + (" (store reset first)" if args.reset else ""), file=sys.stderr)
    return 0


async def _rotate_key(settings: Settings, alg: str) -> str:
    from app.db import create_engine, create_sessionmaker
    from app.psc.service import rotate_signing_key

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await rotate_signing_key(session, settings, alg)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def cmd_keys(args: argparse.Namespace) -> int:
    kid = _run(lambda s: _rotate_key(s, args.alg), args)
    print(f"new {args.alg} signing key {kid} is active; the previous one stays published in the JWKS "
          "until the tokens it signed have expired", file=sys.stderr)
    print(kid)
    return 0


def cmd_vihf(args: argparse.Namespace) -> int:
    """Ask a running sandbox for a signed VIHF (``POST /sandbox/v1/dmps/vihf``) and print the assertion, to put
    in the ``wsse:Security`` header of a DMPi SOAP call."""
    import httpx

    base = _tenant_base((args.url or os.environ.get("SEGUR_PUBLIC_BASE_URL") or "http://localhost:8000").rstrip("/"),
                        args.tenant)
    body = {"subject_name_id": args.subject, "patient_ins": args.patient, "access_mode": args.mode,
            "authentication_mode": args.authentication, "validity_seconds": args.validity}
    body.update({key: value for key, value in (("patient_oid", args.oid), ("access_reason", args.reason),
                                               ("structure_id", args.structure)) if value})
    try:
        response = httpx.post(f"{base}/sandbox/v1/dmps/vihf", json=body, timeout=30)
    except httpx.HTTPError as exc:
        print(f"segur-sandbox vihf: cannot reach the sandbox at {base}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else None
        print(f"segur-sandbox vihf: {response.status_code} {detail or response.text}", file=sys.stderr)
        return 1
    answer = response.json()
    if answer.get("client_certificate_subject"):
        print(f"client certificate subject (INDIRECTE): {answer['client_certificate_subject']}", file=sys.stderr)
    print(f"valid until {answer['not_on_or_after']}", file=sys.stderr)
    print(answer["assertion"])
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Fetch a client's conformance report from a running sandbox (``GET /sandbox/v1/reports/{client}``) and
    write it to stdout (or ``--output``); with ``--check``, exit 3 when a requirement failed."""
    import json
    from urllib.parse import quote

    import httpx
    from lxml import etree

    base = _tenant_base((args.url or os.environ.get("SEGUR_PUBLIC_BASE_URL") or "http://localhost:8000").rstrip("/"),
                        args.tenant)
    token = args.token or os.environ.get("SEGUR_CONTROL_TOKEN")
    params = [("format", args.format), *(("also", a) for a in args.also or ())]
    params += [(name, value) for name, value in (("since", args.since), ("until", args.until)) if value]
    try:
        response = httpx.get(f"{base}/sandbox/v1/reports/{quote(args.client, safe=':@')}", params=params,
                             headers={"Authorization": f"Bearer {token}"} if token else None, timeout=60)
    except httpx.HTTPError as exc:
        print(f"segur-sandbox report: cannot reach the sandbox at {base}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else None
        print(f"segur-sandbox report: {response.status_code} {detail or response.text}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "wb") as out:
            out.write(response.content)
    else:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
    failed = 0
    if args.format == "json":
        failed = int(json.loads(response.content)["summary"]["failed"])
    elif args.format == "junit":
        failed = int(etree.fromstring(response.content).get("failures") or 0)
    if failed:
        print(f"segur-sandbox report: {failed} requirement(s) failed for {args.client}", file=sys.stderr)
    return 3 if args.check and failed else 0


def cmd_version(_args: argparse.Namespace) -> int:
    print(__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segur-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the HTTP, SMTP and IMAP listeners")
    serve.add_argument("--host", help="HTTP bind address (SEGUR_HTTP_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (SEGUR_HTTP_PORT, default 8000)")
    serve.add_argument("--smtp-host", help="SMTP bind address (SEGUR_SMTP_HOST)")
    serve.add_argument("--smtp-port", type=int, help="SMTP port (SEGUR_SMTP_PORT, default 2525)")
    serve.add_argument("--database-url", help="store URL (SEGUR_DATABASE_URL)")
    serve.add_argument("--base-url", help="public base URL (SEGUR_PUBLIC_BASE_URL)")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument("--log-format", choices=["text", "json"])
    serve.add_argument("--workers", type=int, default=1, help="uvicorn workers (PostgreSQL only)")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="schema migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, default in (("upgrade", "heads"), ("downgrade", None)):
        sub = db_commands.add_parser(name, help=f"{name} the schema")
        sub.add_argument("revision", nargs="?" if default else None, default=default)
        sub.add_argument("--database-url")
    current = db_commands.add_parser("current", help="print the applied revisions")
    current.add_argument("--database-url")
    db.set_defaults(handler=cmd_db)

    seed = commands.add_parser("seed", help="load every service's fixtures (idempotent)")
    seed.add_argument("--database-url")
    seed.add_argument("--reset", action="store_true", help="empty the store first, as POST /sandbox/v1/reset")
    seed.add_argument("--ins-file", action="append", metavar="PATH",
                      help="also load your own INS fixture file (JSON with persons, cards, idams in the "
                      "shapes of the control API); repeatable")
    seed.add_argument("--tenant", type=_tenant_name, help="seed (or --reset) this tenant's world, not the default "
                      "one; the tenant must exist (POST /sandbox/v1/tenants)")
    seed.set_defaults(handler=cmd_seed)

    keys = commands.add_parser("keys", help="Pro Santé Connect signing keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_commands.add_parser("rotate", help="add a signing key and make it the active one")
    rotate.add_argument("--alg", choices=["RS256", "ES256"], default="RS256")
    rotate.add_argument("--database-url")
    keys.set_defaults(handler=cmd_keys)

    from app.mss.cli import add_xdm_commands

    add_xdm_commands(commands)

    vihf = commands.add_parser("vihf", help="print a signed VIHF (DMPi SOAP face) from a running sandbox")
    vihf.add_argument("--subject", required=True, help="the professional's NameID (8 + RPPS), known to PSC")
    vihf.add_argument("--patient", required=True, help="the patient's INS (resource-id)")
    vihf.add_argument("--oid", help="the INS's OID (default: the DMP's, else the test NIR OID)")
    vihf.add_argument("--mode", choices=["normal", "bris_de_glace", "centre_15"], default="normal",
                      help="access mode (purposeofuse, TRE_R248)")
    vihf.add_argument("--reason", help="the access reason (break-glass)")
    vihf.add_argument("--authentication", choices=["INDIRECTE", "DIRECTE"], default="INDIRECTE")
    vihf.add_argument("--structure", help="Identifiant_Structure (default: the professional's)")
    vihf.add_argument("--validity", type=int, default=3600, help="seconds (60..86400)")
    vihf.add_argument("--url", help="the sandbox's base URL (SEGUR_PUBLIC_BASE_URL, default http://localhost:8000)")
    vihf.add_argument("--tenant", type=_tenant_name, help=TENANT_HELP)
    vihf.set_defaults(handler=cmd_vihf)

    report = commands.add_parser("report", help="print a client's conformance report from a running sandbox")
    report.add_argument("--client", required=True,
                        help="psc:<client_id>, ins:<IDAM>, dmp:<LPS>, mss:<login> (GET /sandbox/v1/reports lists them)")
    report.add_argument("--also", action="append", help="another identity of the same software (repeatable)")
    report.add_argument("--format", choices=["junit", "json", "html"], default="junit")
    report.add_argument("--since", help="ISO 8601 (default: since the last reset)")
    report.add_argument("--until", help="ISO 8601 (default: now)")
    report.add_argument("--output", help="a file to write (default: stdout)")
    report.add_argument("--check", action="store_true", help="exit 3 when a requirement failed (json, junit)")
    report.add_argument("--token", help="the control token (default: SEGUR_CONTROL_TOKEN)")
    report.add_argument("--url", help="the sandbox's base URL (SEGUR_PUBLIC_BASE_URL, default http://localhost:8000)")
    report.add_argument("--tenant", type=_tenant_name, help=TENANT_HELP)
    report.set_defaults(handler=cmd_report)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SettingsError as exc:
        print(f"segur-sandbox: invalid configuration\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

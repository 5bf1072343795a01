"""`sempervirens check`: is this deployment ready to serve? One result per check.

Each check reads, never writes: a store that does not exist is reported, not made.
"""

from __future__ import annotations

import os
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_BYTES = 1 << 30  # below 1 GiB free, a day of pings or a lake rewrite may not fit
MIN_FREE_FRACTION = 0.05
MIN_KEY_LENGTH = 32  # as admin/_secret.py requires
DNS_TIMEOUT = 3.0  # seconds for one answer
DNS_PROBE = "1.0.0.127.in-addr.arpa."  # a reverse lookup any resolver can answer


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        from .redact import line  # no password, one line, whatever said it

        return line(f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}")


def run_checks(values: dict) -> list[Result]:
    from .store import store_urls
    from .store.backup import BackupError, shown, sqlite_path

    results = []
    urls = _urls(values, store_urls)
    for name, url in urls.items():
        try:
            path = sqlite_path(url)
        except BackupError as error:
            results.append(Result(f"{name} store", False, str(error)))
            continue
        if path is not None and not path.is_file():
            results.append(Result(f"{name} store", False,
                                  f"no store at {path} (`sempervirens serve` creates it; check --data-dir)"))
            continue
        results.extend(_store(name, url, shown(url)))
    results.append(_settings(values))
    results.append(_secret_key(values))
    results.append(_tls(values))
    results.append(_dns(values))
    results.extend(_disk(values))
    results.append(_lake(values))
    results.append(_engine(values))
    return results


def _settings(values: dict) -> Result:
    """Every setting of the configuration (file, environment), as `serve` and the cycle
    would check it: `check` must not pass a deployment whose server then refuses to start.
    (Those diagnosed by a line of their own are left to it.)"""
    from . import settings

    names = [name for name in settings.SETTINGS
             if name not in ("secret_key", "tls_cert", "tls_key", "dns_server")]
    problem = settings.check(values, names)
    if problem:
        return Result("settings", False, problem)
    return Result("settings", True, f"{len(names)} settings valid for serve and the cycle")


def _engine(values: dict) -> Result:
    from .aggregate.engine import EngineError, check_engine

    try:
        return Result("engine", True, check_engine(values))
    except EngineError as error:
        return Result("engine", False, str(error))


def _urls(values: dict, store_urls) -> dict[str, str]:
    # store_urls would make the data directory: give it a path only when SQLite is used.
    if values["database"] and values["private_database"]:
        return {"telemetry": values["database"], "private": values["private_database"]}
    base = Path(values["data_dir"]).absolute()
    return {"telemetry": values["database"] or f"sqlite:///{base / 'telemetry.db'}",
            "private": values["private_database"] or f"sqlite:///{base / 'private.db'}"}


def _store(name: str, url: str, where: str) -> list[Result]:
    from alembic.script import ScriptDirectory

    from .store import create_store_engine
    from .store.migrations import config, current, too_new

    engine = None
    try:
        engine = create_store_engine(url)
        heads = current(engine)
    except Exception as error:  # noqa: BLE001 - any driver error, said in one line without password
        return [Result(f"{name} store", False, f"{where} cannot be reached: {_first_line(error)}")]
    finally:
        if engine is not None:
            engine.dispose()
    reachable = Result(f"{name} store", True, f"{where} reachable")
    head = ScriptDirectory.from_config(config(name)).get_current_head()
    at = heads[0] if heads else None
    if at == head:
        return [reachable, Result(f"{name} migrations", True, f"at head {head}")]
    why = too_new(name, heads)
    if why is not None:
        return [reachable, Result(f"{name} migrations", False, why)]
    return [reachable, Result(f"{name} migrations", False,
                              f"at {at or 'no revision'}, head is {head}: start `sempervirens serve` "
                              f"(it migrates) after a backup")]


def _secret_key(values: dict) -> Result:
    if values["secret_key"] is not None:
        length = len(values["secret_key"].encode())
        if length < MIN_KEY_LENGTH:
            return Result("secret key", False, f"secret_key is {length} characters, "
                                               f"{MIN_KEY_LENGTH} at least are needed")
        return Result("secret key", True, f"set by secret_key ({length} characters)")
    path = Path(values["data_dir"]) / "secret.key"
    try:
        length = len(path.read_text().strip().encode())
    except FileNotFoundError:
        return Result("secret key", False, f"none: no secret_key setting and no {path} "
                                           f"(`sempervirens serve` makes it; hosts sharing a database "
                                           f"set secret_key)")
    except (OSError, UnicodeDecodeError) as error:
        return Result("secret key", False, f"{path} cannot be read: {_first_line(error)}")
    if length < MIN_KEY_LENGTH:
        return Result("secret key", False, f"{path} holds {length} characters, {MIN_KEY_LENGTH} "
                                           f"at least are needed")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return Result("secret key", False, f"{path} is readable by others (mode {mode:o}): chmod 600")
    return Result("secret key", True, f"{path} ({length} characters, mode {mode:o})")


def _tls(values: dict) -> Result:
    cert, key = values["tls_cert"], values["tls_key"]
    if not cert and not key:
        return Result("TLS", True, "not configured: plain HTTP (only behind a TLS-terminating proxy)")
    if not (cert and key):
        return Result("TLS", False, "--tls-cert and --tls-key go together")
    for flag, path in (("tls_cert", cert), ("tls_key", key)):
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            return Result("TLS", False, f"{flag} {path}: no such readable file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError, ValueError) as error:
        return Result("TLS", False, f"{cert} and {key} are not a matching PEM certificate and key "
                                    f"({type(error).__name__})")
    return Result("TLS", True, f"{cert} and {key} readable and matching")


def _dns(values: dict) -> Result:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.resolver

    from .enrich import parse_nameserver

    if values["dns_server"]:
        try:
            server = parse_nameserver(values["dns_server"])
        except ValueError as error:
            return Result("DNS", False, str(error))
        host, port, what = server.address, server.port, f"--dns-server {values['dns_server']}"
    else:
        try:
            host = dns.resolver.Resolver().nameservers[0]
        except (dns.resolver.NoResolverConfiguration, IndexError, OSError):
            return Result("DNS", False, "no system resolver configured: set dns_server")
        port, what = 53, f"the system resolver {host}"
    query = dns.message.make_query(DNS_PROBE, "PTR")
    try:
        answer = dns.query.udp(query, str(host), port=int(port), timeout=DNS_TIMEOUT)
    except (dns.exception.Timeout, OSError) as error:
        reason = "no answer within 3 s" if isinstance(error, dns.exception.Timeout) else _first_line(error)
        return Result("DNS", False, f"{what}: {reason} (reverse-DNS enrichment would stall)")
    code = answer.rcode()
    if code in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Result("DNS", True, f"{what} answers ({dns.rcode.to_text(code)} for {DNS_PROBE})")
    return Result("DNS", False, f"{what} answers {dns.rcode.to_text(code)} for {DNS_PROBE}")


def _disk(values: dict) -> list[Result]:
    places = {"data_dir": values["data_dir"]}
    if "://" not in values["lake"]:
        places["lake"] = values["lake"]
    results = []
    for name, place in places.items():
        path = Path(place)
        while not path.exists() and path != path.parent:  # a lake not made yet: its parent's disk
            path = path.parent
        usage = shutil.disk_usage(path)
        free, fraction = usage.free, usage.free / usage.total if usage.total else 0.0
        text = f"{_size(free)} free ({fraction:.0%}) for {name} {place}"
        ok = free >= MIN_FREE_BYTES and fraction >= MIN_FREE_FRACTION
        results.append(Result("disk", ok, text if ok else
                              f"{text}: less than {_size(MIN_FREE_BYTES)} or {MIN_FREE_FRACTION:.0%}"))
    return results


def _lake(values: dict) -> Result:
    from .store.lake import Lake, LakeError

    try:
        lake = Lake(values["lake"])
        days = lake.manifest()["days"]
        problems = lake.verify()
    except LakeError as error:
        return Result("lake", False, str(error))
    if problems:
        more = f" (and {len(problems) - 1} more; `sempervirens lake verify` lists them)" if len(problems) > 1 else ""
        return Result("lake", False, f"{problems[0]}{more}")
    files = sum(len(d["files"]) for d in days.values())
    if not days:
        return Result("lake", True, f"{lake.shown}: no day sealed yet")
    return Result("lake", True,
                  f"{lake.shown}: {len(days)} day(s), {files} file(s) match the manifest")


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__

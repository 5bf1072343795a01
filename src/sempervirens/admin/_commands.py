"""`sempervirens admin ...`: tokens, projects and their metrics files, deletion, export, audit log.

These run on the server host against the stores (the same --data-dir or database
URLs as `serve`).  A token is printed once, on standard output, and never again.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys

from .. import redact, settings
from . import _notice_commands

STORE_SETTINGS = (*settings.STORES, "lake")
DEFAULT_EXPIRY_DAYS = 90


def register(subparsers) -> None:
    admin = subparsers.add_parser(
        "admin", help="tokens, projects, deletion, export, audit",
        description="Operator commands, run on the server host against the stores of `serve` "
                    "(the same --config, --data-dir or database URLs).",
        epilog="example: sempervirens admin project add mypkg --maintainer alice "
               "--metrics metrics.toml")
    commands = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)

    token = commands.add_parser(
        "token", help="API tokens for maintainers and admins",
        description="API tokens for the private API and pages: shown once when created, "
                    "stored as a hash, revoked at once.",
        epilog="example: sempervirens admin token create --role admin --holder carol")
    token_commands = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    create = _command(token_commands, "create", "create a token and print it once", token_create,
                      example="admin token create --role maintainer --project mypkg --holder alice")
    create.add_argument("--role", choices=("admin", "maintainer"), required=True,
                        help="admin: every project and the operator's pages; maintainer: the "
                             "private statistics of one --project")
    create.add_argument("--project", help="the project of a maintainer token")
    create.add_argument("--holder", default="", help="who receives it (shown in the audit log)")
    _expires(create)
    _command(token_commands, "list", "list tokens (never their secret)", token_list,
             example="admin token list --data-dir /var/lib/sempervirens")
    revoke = _command(token_commands, "revoke", "revoke a token at once", token_revoke,
                      example="admin token revoke 3f2a9c1e")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="the id shown by `token list`")

    project = commands.add_parser(
        "project", help="registered projects and what they declare",
        description="Registered projects, under their PEP 503 name, and their metrics files: "
                    "what each collects (docs/integrating.md).",
        epilog="example: sempervirens admin project list")
    project_commands = project.add_subparsers(dest="project_command", metavar="COMMAND", required=True)
    add = _command(project_commands, "add", "register a project (PEP 503 name)", project_add,
                   example="admin project add mypkg --maintainer alice --metrics metrics.toml")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--maintainer", action="append", default=[],
                     help="give this person a maintainer token (repeatable)")
    _metrics(add, required=False)
    _expires(add)
    update = _command(project_commands, "update", "replace what a registered project declares",
                      project_update, example="admin project update mypkg --metrics metrics.toml")
    update.add_argument("name", metavar="NAME")
    _metrics(update, required=True)
    show = _command(project_commands, "show", "print what a project declares, as a metrics file",
                    project_show, example="admin project show mypkg > metrics.toml")
    show.add_argument("name", metavar="NAME")
    _command(project_commands, "list", "list registered projects and maintainers", project_list,
             example="admin project list")
    remove = _command(project_commands, "remove", "unregister a project and revoke its tokens",
                      project_remove, example="admin project remove mypkg")
    remove.add_argument("name", metavar="NAME")

    delete = _command(commands, "delete", "delete everything stored about client_ids", delete_command,
                      secret=True, example="admin delete 0b7e4c52-3f4e-4d8a-9c1e-2a6f0d9b8e71")
    delete.add_argument("client_ids", metavar="CLIENT_ID", nargs="+")
    _command(commands, "process-deletions", "carry out the deletion-request pings received",
             process_deletions, secret=True, example="admin process-deletions")
    export = _command(commands, "export", "write everything stored about a client_id as JSON",
                      export_command, secret=True,
                      example="admin export 0b7e4c52-3f4e-4d8a-9c1e-2a6f0d9b8e71 -o request.json")
    export.add_argument("client_id", metavar="CLIENT_ID")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.add_argument("--purpose", default="access-request",
                        help="why, for the audit log (CATEGORY[: text])")
    audit = _command(commands, "audit", "list the audit log of private reads", audit_command,
                     example="admin audit --month 2026-11")
    audit.add_argument("--month", type=_month, help="only this month, as YYYY-MM")
    audit.add_argument("--limit", type=settings.whole_number(1, 1_000_000), default=100,
                       help="most entries listed, newest first [default: 100]")
    audit.add_argument("--purpose", default="operations: audit review", help="why, for the audit log")
    _notice_commands.register(commands, _command)  # policy, notice, transparency


def _command(subparsers, name: str, help: str, func, *, example: str | None = None,
             secret: bool = False):
    # Every command shows an example (tests/cli/test_every_command.py asks for one).
    parser = subparsers.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                                   epilog=f"example: sempervirens {example}" if example else None)
    settings.add_arguments(parser, *STORE_SETTINGS, *(("secret_key",) if secret else ()))
    parser.set_defaults(func=func)
    return parser


def _month(value: str) -> str:
    import re

    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"not a month as YYYY-MM: {value!r}")
    return value


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = 0.0
    if not 0 < days < 100000:
        raise argparse.ArgumentTypeError(f"not a positive number of days: {value!r}")
    return days


def _expires(parser) -> None:
    parser.add_argument("--expires", type=_days, default=DEFAULT_EXPIRY_DAYS, metavar="DAYS",
                        help=f"days until it expires [default: {DEFAULT_EXPIRY_DAYS}]")


def _metrics(parser, *, required: bool) -> None:
    parser.add_argument("--metrics", metavar="FILE", required=required,
                        help="the project's metrics file: what it collects (docs/integrating.md)")


def _open(args):
    from ..store._existing import open_existing

    config = settings.resolve(args)
    return config, open_existing(config, args.command_name)


def _open_with_key(args):
    """(settings, secret key, stores): a key that cannot be read or made stops the command
    here, in one line, before anything is changed (and is never taken for a later step's)."""
    from ._secret import load_key

    config, stores = _open(args)
    try:
        return config, load_key(config), stores
    except BaseException:
        stores.dispose()
        raise


def _fail(message: str) -> int:
    print(redact.line(f"sempervirens admin: {message}"), file=sys.stderr)
    return 2


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def token_create(args) -> int:
    from . import tokens
    from ..protocol import ProtocolError, normalize_project
    from .projects import is_registered

    _, stores = _open(args)
    try:
        if args.role == "maintainer" and args.project:
            project = normalize_project(args.project)
            with stores.telemetry.connect() as connection:
                if not is_registered(connection, project):  # a typo would make a dead token
                    return _fail(f"no project {project!r} is registered here "
                                 f"(sempervirens admin project add {project})")
        with stores.private.begin() as connection:
            token_id, token = tokens.create(connection, args.role, project=args.project,
                                            holder=args.holder, expires_days=args.expires)
    except (ValueError, ProtocolError) as error:
        return _fail(str(error))
    finally:
        stores.dispose()
    print(f"created token {token_id} ({args.role}); it is shown once, keep it secret:", file=sys.stderr)
    print(token)
    return 0


def token_list(args) -> int:
    from . import tokens

    _, stores = _open(args)
    with stores.private.connect() as connection:
        rows = tokens.listing(connection)
    stores.dispose()
    for row in rows:
        print(f"{row['id']}  {row['status']:8} {row['role']:10} {row['project'] or '-':20} "
              f"expires {row['expires_at'] or 'never'}  {row['holder']}")
    return 0


def token_revoke(args) -> int:
    from . import tokens

    _, stores = _open(args)
    with stores.private.begin() as connection:
        revoked = tokens.revoke(connection, args.token_id)
    stores.dispose()
    if not revoked:
        return _fail("no active token with that id")
    print(f"revoked {args.token_id}", file=sys.stderr)
    return 0


def _read_metrics(path: str):
    """The metrics file's Declaration; DeclarationError (one line) if it cannot be used."""
    from ..model.declarations import DeclarationError, parse

    from .. import textfile

    try:
        text = textfile.read(path)
    except textfile.Unreadable as error:
        raise DeclarationError(f"cannot read metrics file {path}: {error}") from None
    return parse(text, path)


def _one_line(error: Exception) -> str:
    return " ".join(str(getattr(error, "message", error)).split())


def project_add(args) -> int:
    from . import projects
    from ..protocol import ProtocolError

    try:
        declaration = _read_metrics(args.metrics) if args.metrics else None
    except ValueError as error:  # DeclarationError: nothing is registered
        return _fail(_one_line(error))
    _, stores = _open(args)
    try:
        name, new, issued = projects.add(stores, args.name, tuple(args.maintainer), args.expires,
                                         declaration=declaration)
    except (ValueError, ProtocolError) as error:
        return _fail(_one_line(error))
    finally:
        stores.dispose()
    declared = (f", declaring {_summary(declaration)}" if declaration is not None else
                f", declaring nothing: nothing of it is released until `sempervirens admin "
                f"project update {name} --metrics FILE`" if new else "")
    print(f"{'registered' if new else 'already registered:'} {name}{declared}", file=sys.stderr)
    for maintainer, token in issued:
        print(f"{maintainer}\t{token}")
    return 0


def project_update(args) -> int:
    from . import projects
    from ..protocol import ProtocolError

    try:
        declaration = _read_metrics(args.metrics)
    except ValueError as error:
        return _fail(_one_line(error))
    _, stores = _open(args)
    try:
        before = projects.declaration(stores.telemetry, args.name)
        changed = projects.declare(stores, args.name, declaration)
    except (LookupError, ValueError, ProtocolError) as error:
        return _fail(_one_line(error))
    finally:
        stores.dispose()
    if not changed:
        print("unchanged: the metrics file declares what is registered", file=sys.stderr)
        return 0
    for line in projects.changes(before, declaration) or ["the same entries, in another order"]:
        print(line)
    print(f"updated; it now declares {_summary(declaration)}", file=sys.stderr)
    return 0


def project_show(args) -> int:
    from . import projects
    from ..protocol import ProtocolError, normalize_project

    try:
        name = normalize_project(args.name)
    except ProtocolError as error:
        return _fail(_one_line(error))
    _, stores = _open(args)
    try:
        with stores.telemetry.connect() as connection:
            registered = projects.is_registered(connection, name)
            declaration = projects.declaration(connection, name)
            declared_at = projects.declared_at(connection, name)
    finally:
        stores.dispose()
    if not registered:
        return _fail(f"no such project: {name}")
    if declaration is None:
        return _fail(f"{name} declares nothing yet: "
                     f"`admin project update {name} --metrics FILE` registers its metrics file")
    when = declared_at.isoformat(timespec="seconds")
    print(f"# {name}: {_summary(declaration)}, declared {when}")
    sys.stdout.write(projects.to_toml(declaration))
    return 0


def _summary(declaration) -> str:
    return (f"{len(declaration.metrics)} metric(s), {len(declaration.versions)} version(s), "
            f"{len(declaration.crash_kinds)} crash kind(s)")


def project_list(args) -> int:
    from . import projects

    _, stores = _open(args)
    rows = projects.listing(stores)
    stores.dispose()
    for row in rows:
        print(f"{row['name']}\t{row['registered_at']}\t{', '.join(row['maintainers'])}")
    return 0


def project_remove(args) -> int:
    from . import projects
    from ..protocol import ProtocolError

    _, stores = _open(args)
    try:
        removed, revoked = projects.remove(stores, args.name)
    except ProtocolError as error:
        return _fail(error.message)
    finally:
        stores.dispose()
    if not removed:
        return _fail("no such project")
    print(f"removed; {revoked} maintainer token(s) revoked; its stored pings stay until retention",
          file=sys.stderr)
    return 0


def delete_command(args) -> int:
    from ..store.lake import LakeError
    from .deletion import canonical_client_id, delete_clients
    from .tombstones import WrongKey

    try:
        ids = [canonical_client_id(c) for c in args.client_ids]
    except ValueError as error:
        return _fail(str(error))
    config, key, stores = _open_with_key(args)
    try:
        with _lake_writer(stores):
            report = delete_clients(stores, key, ids, lake=config["lake"])
    except WrongKey as error:
        return _fail(str(error))
    except (LakeError, OSError) as error:
        _fail(_lake_step_failed(error))
        return 1  # not a usage error: the lake needs repair
    finally:
        stores.dispose()
    _report(report)
    return 0


def process_deletions(args) -> int:
    from ..store.lake import LakeError
    from .deletion import process_deletion_requests
    from .tombstones import WrongKey

    config, key, stores = _open_with_key(args)
    try:
        with _lake_writer(stores):
            report = process_deletion_requests(stores, key, lake=config["lake"])
    except WrongKey as error:
        return _fail(str(error))
    except (LakeError, OSError) as error:
        _fail(_lake_step_failed(error))
        return 1  # not a usage error: the lake needs repair
    finally:
        stores.dispose()
    _report(report)
    return 0


def _lake_writer(stores):
    """The cycle's lock, while a deletion writes the lake: on object storage the lake's own
    lock does not reach a cycle on another host (store/_cycle_lock.py)."""
    from ..store._cycle_lock import cycle_lock_waiting

    return cycle_lock_waiting(stores, lambda: print(
        "sempervirens admin: waiting for the aggregation cycle running now to end (one "
        "writer of the lake at a time)", file=sys.stderr, flush=True))


def _lake_step_failed(error: Exception) -> str:
    # Running again is safe: what is done is not redone, and the lake step is retried.
    return (f"deletion incomplete: the clients are tombstoned and gone from the stores, but "
            f"the lake could not be rewritten ({str(error).splitlines()[0]}); repair the lake "
            f"(sempervirens lake verify), then run this command again")


def _report(report) -> None:
    rows = ", ".join(f"{table}: {count}" for table, count in sorted(report.rows.items()) if count)
    print(f"deleted {report.clients} client(s); rows {rows or 'none'}; "
          f"{'; '.join(report.compaction)}", file=sys.stderr)


def export_command(args) -> int:
    from . import audit
    from ..store.lake import LakeError
    from .deletion import canonical_client_id
    from .export import export_client

    try:
        client_id = canonical_client_id(args.client_id)
    except ValueError as error:
        return _fail(str(error))
    config, key, stores = _open_with_key(args)
    try:
        with stores.private.begin() as connection:  # the UUID itself is not recorded
            audit.record(connection, holder=_operator(), role="admin", action="export", purpose=args.purpose)
        data = export_client(stores, key, client_id, lake=config["lake"])
    except (LakeError, OSError) as error:
        _fail(f"the lake could not be read ({str(error).splitlines()[0]}); nothing exported: "
              f"repair the lake (sempervirens lake verify), then run this command again")
        return 1
    finally:
        stores.dispose()
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if args.output:
        _write_private(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _write_private(path: str, text: str) -> None:
    """Write the file whole, mode 0600 whatever was there (an existing file kept its mode
    when truncated: an export, with its addresses, left readable by every user), and
    never half (a full disk leaves the file as it was)."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".export-")  # 0600
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # a link at `path` is replaced, not followed
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def audit_command(args) -> int:
    from . import audit

    _, stores = _open(args)
    try:
        with stores.private.begin() as connection:
            audit.record(connection, holder=_operator(), role="admin", action="audit", purpose=args.purpose)
        with stores.private.connect() as connection:
            rows = audit.listing(connection, month=args.month, limit=args.limit)
    finally:
        stores.dispose()
    for row in rows:
        print(json.dumps(row, sort_keys=True, default=str))
    return 0


__all__ = ["register"]

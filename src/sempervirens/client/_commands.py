"""The user's commands: status, opt-in, opt-out, show, send, forget.

`register(subparsers)` only declares them; the work is imported when a command
runs, so `sempervirens --help` stays fast.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "status",
        help="Consent per project, where the id and the spool live, what is pending.",
        description="Show what this installation decided (usage statistics, crash reports) "
        "for each project and for all, the installation id and where it is kept, and the "
        "pings waiting to be sent.",
        epilog="example: sempervirens status",
    )
    p.set_defaults(func=status)

    for name, func, verb in (("opt-in", opt_in, "Allow"), ("opt-out", opt_out, "Refuse")):
        p = subparsers.add_parser(
            name,
            help=f"{verb} usage statistics (or crash reports) for a project or all.",
            description=f"{verb} usage statistics (or, with --crash-reports, crash reports) "
            "for one project or, with --all, for every project, now and later. Your "
            "decision wins over a project's default.",
            epilog=f"example: sempervirens {name} numpy   or   sempervirens {name} --all",
        )
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument(
            "project", nargs="?", metavar="PROJECT", help="the project, as it names itself"
        )
        target.add_argument("--all", action="store_true", help="every project, now and later")
        p.add_argument(
            "--crash-reports",
            action="store_true",
            help="decide about crash reports instead of usage statistics",
        )
        p.set_defaults(func=func)

    p = subparsers.add_parser(
        "show",
        help="The pending pings, exactly what would be sent (pretty-printed).",
        description="Print the pings waiting in the spool, exactly what would be sent "
        "(pretty-printed JSON, or the exact bytes with --raw).",
        epilog="example: sempervirens show --raw",
    )
    p.add_argument(
        "--raw", action="store_true", help="print the bodies' exact bytes, not pretty-printed"
    )
    p.set_defaults(func=show)

    p = subparsers.add_parser(
        "send",
        help="Upload the pending pings now.",
        description="Upload the pings waiting in the spool now, rather than at the next run.",
        epilog="example: sempervirens send",
    )
    p.set_defaults(func=send)

    p = subparsers.add_parser(
        "forget",
        help="Ask every project's server to delete data from this "
        "installation id, clear the spool, then make a new id.",
        description="Ask every project's server to delete everything stored under this "
        "installation id, clear the spool, then make a new id.",
        epilog="example: sempervirens forget",
    )
    p.set_defaults(func=forget)


def _data_dir(create: bool = True) -> str | None:
    from . import _paths

    data_dir = _paths.data_dir()
    if data_dir is None:
        print(
            "sempervirens: no home directory and no SEMPERVIRENS_HOME: nothing is kept.",
            file=sys.stderr,
        )
        return None
    if create and not _paths.ensure_dir(data_dir, warn=False):
        why = _paths.untrusted(data_dir) or f"cannot write {data_dir}"
        print(f"sempervirens: {why}: nothing is kept", file=sys.stderr)
        return None
    return data_dir


def status(args) -> int:
    import os

    from . import _config, _consent, _identity, _paths, _policy, _projects
    from ._spool import Spool

    data_dir = _paths.data_dir()
    if data_dir is None:
        print("No home directory and no SEMPERVIRENS_HOME: nothing is recorded or kept.")
        return 0
    print(f"data directory:   {data_dir}")
    refused = os.path.isdir(data_dir) and _paths.untrusted(data_dir)
    if refused:
        print(f"                  refused, nothing is kept: {refused} (chmod 700 it)")
    client_id = _identity.read(data_dir) if os.path.isdir(data_dir) else None
    where = os.path.join(data_dir, _identity.FILENAME)
    print(f"installation id:  {client_id or '(none yet)'}  ({where})")
    refusing = _config.denied_by_environment()
    if refusing:
        print(f"environment:      {refusing} is set: nothing is recorded or sent")
    try:
        store = _consent.load(data_dir)
    except _consent.ConsentUnreadable as error:
        print(
            f"consent file unreadable ({error}): nothing is recorded or sent until you "
            "run `sempervirens opt-in` or `opt-out`"
        )
        store = _consent.load_fresh()
    for question, label, undecided in (
        ("usage", "usage statistics", "not decided (each project's default)"),
        ("crash", "crash reports", "not decided (asked each time)"),
    ):
        answer = store[question]["global"] or undecided
        print(f"{label + ':':<18}{answer} (all projects)")
    projects = _projects.load(data_dir)
    policies = _policy.load(data_dir)
    names = sorted(
        set(projects) | set(store["usage"]["projects"]) | set(store["crash"]["projects"])
    )
    if names:
        print("projects:")
    for name in names:
        info = projects.get(name, {})
        mode = info.get("mode", "opt-out")
        collecting, why = _consent.usage_allowed(data_dir, name, mode)
        crash = _consent.decision(store, "crash", name) or "ask each time"
        version = f" {info['version']}" if info.get("version") else ""
        print(
            f"  {name}{version}: {'collecting' if collecting else 'off'} ({why}); "
            f"crash reports: {crash}; endpoint "
            + _config.without_credentials(info.get("endpoint", "?"))
        )
        if info.get("endpoint") in policies:
            print(f"    {_policy_line(policies[info['endpoint']])}")
    spool = Spool(data_dir)
    entries = spool.entries()
    size = sum(e.size for e in entries)
    print(f"pending:          {len(entries)} ping(s), {size} bytes in {spool.dir}")
    for project, reasons in sorted(spool.dropped().items()):
        print(
            f"  dropped, to be reported by {project}: "
            + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
        )
    return 0


def _policy_line(entry: dict) -> str:
    from . import _policy

    line = f"privacy policy: version {entry.get('version', '?')} last seen"
    news = _policy.pending(entry)
    if "material" in news:
        line += f"; a material change (version {news['material']}) not shown yet"
    if "security" in news:
        line += f"; security notice {news['security']} not shown yet"
    if news:
        line += ": shown on the next run, usage held until then"
    return line


def _decide(args, answer: str) -> int:
    from . import _actions, _wire

    project = None if args.all else args.project
    if project is not None:
        if not _wire.valid_project(project):
            print(f"sempervirens {args.command}: {project!r} is not a project name (letters, "
                  "digits, '.', '_', '-'; at most 100; starting and ending with a letter or "
                  "digit)", file=sys.stderr)
            return 2
        project = _wire.project_key(project)
    data_dir = _data_dir()
    if data_dir is None:
        return 1
    what = "crash reports" if args.crash_reports else "usage statistics"
    whom = project or "all projects"
    if answer == "in":
        _actions.opt_in(data_dir, project, crash_only=args.crash_reports)
        print(f"{what} allowed for {whom}.")
        return 0
    notified = _actions.opt_out(data_dir, project, crash_only=args.crash_reports)
    print(f"{what} refused for {whom}; their pending data is deleted.")
    if notified:
        result = _send(data_dir)
        note = "sent" if not result.kept else "will be sent later"
        print(f"an anonymous opt-out notice (no installation id) {note} to: {', '.join(notified)}")
    return 0


def opt_in(args) -> int:
    return _decide(args, "in")


def opt_out(args) -> int:
    return _decide(args, "out")


def show(args) -> int:
    try:
        return _show(args)
    except BrokenPipeError:  # `sempervirens show | head`: the reader has seen enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _show(args) -> int:
    import json

    from . import _config, _files, _paths, _wire
    from ._spool import Spool

    data_dir = _paths.data_dir()
    spool = Spool(data_dir) if data_dir else None
    entries = spool.entries() if spool else []
    from . import _environment

    detected = {k: v for k, v in _environment.tags().items() if v is not None}
    print(
        "# environment tags detected here (sent in usage and crash pings, the MPI rank excepted): "
        + (", ".join(f"{k}={v}" for k, v in detected.items()) or "none")
    )
    print(f"# {len(entries)} pending ping(s)" + (f" in {spool.dir}" if spool else ""))
    for entry in entries:
        try:
            header, body = Spool.parse(_files.read_regular(entry.path, _files.MAX_PING_FILE))
        except (OSError, ValueError) as error:
            print(f"\n# {entry.name}: unreadable ({error}); it will be dropped")
            continue
        url = _config.without_credentials(header["endpoint"]).rstrip("/") + _wire.submit_path(
            header["project"], header["ping_type"], header["document_id"]
        )
        print(
            f"\n# {header['ping_type']} ping of {header['project']}, {len(body)} bytes, POST {url}"
        )
        if args.raw:
            sys.stdout.flush()
            sys.stdout.buffer.write(body + b"\n")
            sys.stdout.flush()
        else:
            print(json.dumps(json.loads(body), indent=2))
    return 0


def _send(data_dir: str):
    from ._uploader import Uploader

    return Uploader().drain(data_dir, hold=False)


def send(args) -> int:
    from . import _config

    data_dir = _data_dir()
    if data_dir is None:
        return 1
    if _config.denied_by_environment():
        print(f"{_config.denied_by_environment()} is set: usage and crash pings stay unsent.")
    result = _send(data_dir)
    print(
        f"sent {result.sent}, kept {result.kept} for later, dropped {result.dropped}"
        + (f", deleted {result.refused} you refused" if result.refused else "")
    )
    for problem in result.problems:
        print(f"  {problem}")
    return 0 if not result.kept else 1


def forget(args) -> int:
    from . import _actions

    data_dir = _data_dir()
    if data_dir is None:
        return 1
    old, new, asked = _actions.forget(data_dir)
    print("pending data deleted.")
    if asked:
        result = _send(data_dir)
        note = (
            "sent"
            if not result.kept
            else "queued, will be sent by the next `sempervirens send` or run"
        )
        print(f"deletion request for installation id {old} {note}: {', '.join(asked)}")
    print(f"new installation id: {new}")
    return 0

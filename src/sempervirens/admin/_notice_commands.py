"""`sempervirens admin policy|notice|transparency`: what the deployment tells its users.

    admin policy publish FILE --summary "..." [--material]   the next version of the privacy policy
    admin policy list | show [VERSION]
    admin notice post --kind KIND --title "..." --body FILE [--corrects ID]
    admin notice list
    admin transparency record --quarter 2026Q4 --received N --complied-in-part N
                              --complied-in-full N --rejected N [--undisclosed-range 0-249]
    admin transparency list

Each change is written to the audit log.  Users are reached only through public
channels (/notices, its Atom feed, /transparency) and the clients, which learn of a
new policy version and of a security notice from the headers of every 202.
"""

from __future__ import annotations

import sys

from .. import redact, settings
from ..model.notices import NOTICE_KINDS

_ID = settings.whole_number(1, 2**31 - 1)  # a version or a notice: an INTEGER column
_COUNT = settings.whole_number(0, 10**9)  # legal requests in a quarter


def register(commands, command) -> None:
    """Add the commands to `admin`; `command` is _commands._command (store settings, func)."""
    policy = commands.add_parser(
        "policy", help="the privacy policy's versions",
        description="The deployment's privacy policy: every version kept and public at "
                    "/privacy/policy/vN, with the changes from the one before.",
        epilog="example: sempervirens admin policy publish policy.md --summary \"...\" --material")
    policy_commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    publish = command(policy_commands, "publish", "publish a new version of the privacy policy "
                      "and a notice announcing it", policy_publish,
                      example='admin policy publish policy.md --summary "Crash reports kept 90 days" '
                              "--material")
    publish.add_argument("file", metavar="FILE", help="the whole policy, as Markdown")
    publish.add_argument("--summary", required=True, help="what changed, in a sentence (public)")
    publish.add_argument("--material", action="store_true",
                         help="a material change: every client shows it to its user once")
    command(policy_commands, "list", "list the published versions", policy_list,
            example="admin policy list")
    show = command(policy_commands, "show", "print a version's text (default: the current one)",
                   policy_show, example="admin policy show 2 > policy-v2.md")
    show.add_argument("version", metavar="VERSION", nargs="?", type=_ID)

    notice = commands.add_parser(
        "notice", help="public notices (/notices and its Atom feed)",
        description="Public notices: dated, never edited (a correction is a new notice "
                    "linked to the old one), listed at /notices and in /notices.atom.",
        epilog="example: sempervirens admin notice post --kind service --title \"...\" "
               "--body notice.md")
    notice_commands = notice.add_subparsers(dest="notice_command", metavar="COMMAND", required=True)
    post = command(notice_commands, "post", "post a public notice (never edited afterwards)", notice_post,
                   example='admin notice post --kind security --title "Tokens rotated" '
                           "--body notice.md")
    post.add_argument("--kind", required=True, choices=NOTICE_KINDS)
    post.add_argument("--title", required=True, help="one line")
    post.add_argument("--body", required=True, metavar="FILE", help="the notice, as Markdown")
    post.add_argument("--corrects", type=_ID, metavar="ID", help="the notice this one corrects")
    command(notice_commands, "list", "list the notices, newest first", notice_list,
            example="admin notice list")

    transparency = commands.add_parser(
        "transparency", help="legal requests per quarter (/transparency)",
        description="The legal requests of each quarter and how they were answered, as "
                    "counts, published at /transparency.",
        epilog="example: sempervirens admin transparency record --quarter 2026Q4 --received 2 "
               "--complied-in-part 0 --complied-in-full 0 --rejected 2")
    transparency_commands = transparency.add_subparsers(dest="transparency_command", metavar="COMMAND",
                                                        required=True)
    record = command(transparency_commands, "record", "record a quarter's legal requests (counts only)",
                     transparency_record,
                     example="admin transparency record --quarter 2026Q4 --received 3 "
                             "--complied-in-part 1 --complied-in-full 0 --rejected 2")
    record.add_argument("--quarter", required=True, help="YYYYQN, such as 2026Q4")
    for name, meaning in (("received", "requests received"),
                          ("complied-in-part", "answered with part of what was asked"),
                          ("complied-in-full", "answered with all of what was asked"),
                          ("rejected", "answered with nothing")):
        record.add_argument(f"--{name}", required=True, type=_COUNT, metavar="N", help=meaning)
    record.add_argument("--undisclosed-range", metavar="LOW-HIGH",
                        help="requests that may not be disclosed, as a range such as 0-249")
    record.add_argument("--replace", action="store_true", help="correct a quarter recorded already")
    command(transparency_commands, "list", "list the quarters recorded", transparency_list,
            example="admin transparency list")


def _fail(message: str) -> int:
    print(redact.line(f"sempervirens admin: {message}"), file=sys.stderr)
    return 2


def _read(path: str) -> str:
    from .. import textfile
    from .notices import NoticeError

    try:
        return textfile.read(path)
    except textfile.Unreadable as error:
        raise NoticeError(f"cannot read {path}: {error}") from None


def _write(args, change, action: str, purpose) -> tuple:
    """change(connection) in the telemetry store, committed only once its audit row is:
    (config, result)."""
    from . import audit
    from ._commands import _open, _operator

    config, stores = _open(args)
    try:
        with stores.telemetry.begin() as connection:
            result = change(connection)
            with stores.private.begin() as private:
                audit.record(private, holder=_operator(), role="admin", action=action,
                             purpose=purpose(result))
    finally:
        stores.dispose()
    return config, result


def _published(args, query: str, *arguments):
    """What public/notices.py's `query` reads from the telemetry store of `args`."""
    from ..public import notices
    from ._commands import _open

    _, stores = _open(args)
    try:
        return notices.read(stores.telemetry, getattr(notices, query), *arguments)
    finally:
        stores.dispose()


def policy_publish(args) -> int:
    from .notices import NoticeError, publish_policy

    try:
        text = _read(args.file)
        _, published = _write(
            args, lambda c: publish_policy(c, text, args.summary, material=args.material), "policy-publish",
            lambda p: f"operations: privacy policy version {p.version} published")
    except NoticeError as error:
        return _fail(str(error))
    kind = "a material change" if published.material else "not material"
    print(f"published version {published.version} ({kind}): /privacy/policy/v{published.version}, "
          f"changes at /privacy/policy/v{published.version}/changes; "
          f"announced as notice {published.notice_id}", file=sys.stderr)
    return 0


def policy_list(args) -> int:
    rows = _published(args, "policies")
    for row in rows:
        print(f"{row['version']}\t{row['published_at']:%Y-%m-%d %H:%M}\t"
              f"{'material' if row['material'] else '-'}\t{row['summary']}")
    return 0


def policy_show(args) -> int:
    row = _published(args, "policy", args.version)
    if row is None:
        return _fail(f"no version {args.version} (see `admin policy list`)")
    sys.stdout.write(row["text"])
    return 0


def notice_post(args) -> int:
    from .notices import NoticeError, post_notice

    try:
        body = _read(args.body)
        _, notice_id = _write(
            args, lambda c: post_notice(c, args.kind, args.title, body, corrects=args.corrects),
            "notice-post", lambda i: f"operations: {args.kind} notice {i} posted")
    except NoticeError as error:
        return _fail(str(error))
    print(f"posted notice {notice_id}: /notices/{notice_id}", file=sys.stderr)
    return 0


def notice_list(args) -> int:
    rows = _published(args, "notices")
    for row in rows:
        note = f"\tcorrects {row['corrects']}" if row["corrects"] else ""
        print(f"{row['id']}\t{row['posted_at']:%Y-%m-%d %H:%M}\t{row['kind']}\t{row['title']}{note}")
    return 0


def transparency_record(args) -> int:
    from .notices import NoticeError, record_legal_requests

    try:
        _, replaced = _write(
            args, lambda c: record_legal_requests(
                c, args.quarter, received=args.received, complied_in_part=args.complied_in_part,
                complied_in_full=args.complied_in_full, rejected=args.rejected,
                undisclosed=args.undisclosed_range, replace=args.replace),
            "transparency-record",
            lambda r: f"legal: legal requests of {args.quarter} {'replaced' if r else 'recorded'}")
    except NoticeError as error:
        return _fail(str(error))
    print(f"{'replaced' if replaced else 'recorded'} {args.quarter}: {args.received} legal request(s); "
          f"see /transparency", file=sys.stderr)
    return 0


def transparency_list(args) -> int:
    rows = _published(args, "legal_requests")
    for row in rows:
        undisclosed = (f"{row['undisclosed_low']}-{row['undisclosed_high']}"
                       if row["undisclosed_low"] is not None else "-")
        print(f"{row['quarter']}\treceived {row['received']}\tin part {row['complied_in_part']}\t"
              f"in full {row['complied_in_full']}\trejected {row['rejected']}\tundisclosed {undisclosed}")
    return 0

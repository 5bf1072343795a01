"""Schema migrations of both stores, by Alembic: one version track per store.

Each store has its own revisions, in store/revisions/telemetry/ and
store/revisions/private/ (one Alembic script directory, store/revisions/, with
two version locations), and records the one it is at in its own
`alembic_version` table.  No alembic.ini: `migrate(stores)` runs them at start
(open_stores), and `python -m sempervirens.store.migrations` adds a revision
(docs/operations.md, "Migrations").

A revision is frozen once shipped: it spells out its DDL and never imports
today's tables (schema.py, aggregate/tables.py, admin/tables.py), which a test
compares with what the revisions build (tests/store/test_migrations.py).

Stores made before Alembic carry the hand-written runner's table
`sempervirens_migrations`, one row per step applied.  Its steps are the first
revisions here (step `0003_rollups` is revision `0003`): such a store is stamped
at the revision of its last step, the old table is dropped (alembic_version
replaces it), and the later revisions run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

# Alembic's INFO lines (its plugins, as it is imported; each revision) are for
# developers, not operators' logs.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from ..progress import Progress

REVISIONS = Path(__file__).with_name("revisions")
TRACKS = ("telemetry", "private")
LOCK_ID = 7411  # PostgreSQL advisory lock: several workers start, one migrates

# The hand-written runner's steps, in the order it applied them; the revision that
# freezes each is its number.  Never extend these: new changes are revisions.
OLD_TABLE = "sempervirens_migrations"
OLD_STEPS = {
    "telemetry": ("0001_pings_and_projects", "0002_aggregate_tables", "0003_rollups",
                  "0004_pings_day_client_report", "0005_rollup_cell_sets",
                  "0006_bitmaps_fillfactor", "0007_bytewise_strings"),
    "private": ("0001_access_log", "0002_aggregate_tables", "0003_admin_tables",
                "0004_bytewise_strings"),
}


def config(track: str) -> Config:
    """The Alembic configuration of one store's track (no alembic.ini)."""
    if track not in TRACKS:
        raise ValueError(f"no such store: {track!r} (one of {', '.join(TRACKS)})")
    cfg = Config()
    cfg.set_main_option("script_location", str(REVISIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(REVISIONS / track))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("track", track)  # for the new revision's docstring
    return cfg


def migrate(stores) -> None:
    """Bring both stores to their head revision (at start, before the workers)."""
    upgrade(stores.telemetry, "telemetry")
    upgrade(stores.private, "private")


class StoreTooNew(RuntimeError):
    """The store is at a revision this release does not know: a newer release migrated it."""


def too_new(track: str, heads) -> str | None:
    """Why a store at these revisions cannot be opened by this release, or None."""
    known = {r.revision for r in ScriptDirectory.from_config(config(track)).walk_revisions()}
    unknown = [head for head in heads if head not in known]
    if not unknown:
        return None
    return (f"the {track} store is at revision {', '.join(unknown)}, unknown to this release "
            f"(a newer release migrated it; stores only move forward): run that release, or "
            f"restore a backup made before it (docs/operations.md, 'Migrations')")


def upgrade(engine: Engine, track: str, revision: str = "head") -> None:
    """Upgrade one store to `revision`, in one transaction, under the advisory lock
    on PostgreSQL: a process that waited finds the work done and does nothing."""
    cfg = config(track)
    script = ScriptDirectory.from_config(cfg)
    why = too_new(track, current(engine))
    if why is not None:
        raise StoreTooNew(why)

    def upgrades(current, _context):
        return script._upgrade_revs(revision, current)

    with engine.begin() as connection, Progress(f"migrating the {track} store") as applied:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        with EnvironmentContext(cfg, script, fn=upgrades, destination_rev=revision) as env:
            env.configure(connection=connection, on_version_apply=lambda **_: applied())
            _adopt_old_runner(env.get_context(), script, track)
            with env.begin_transaction():
                env.run_migrations()


def current(engine: Engine) -> tuple[str, ...]:
    """The revision(s) a store is at (empty before its first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_heads()


def _adopt_old_runner(context: MigrationContext, script: ScriptDirectory, track: str) -> None:
    """A store of the hand-written runner: stamp the revision of its last step, and
    drop its table (alembic_version is the record from now on)."""
    connection: Connection = context.connection
    if not inspect(connection).has_table(OLD_TABLE):
        return
    if not context.get_current_heads():
        names = set(connection.execute(text(f"SELECT name FROM {OLD_TABLE}")).scalars())
        steps = OLD_STEPS[track]
        done = steps[:len(names)]
        if names != set(done):
            raise RuntimeError(
                f"the {track} store's {OLD_TABLE} lists {sorted(names)}, not the first steps of "
                f"{list(steps)}: it was not made by a released runner; migrate it by hand")
        if done:
            context.stamp(script, done[-1][:4])
    connection.exec_driver_sql(f"DROP TABLE {OLD_TABLE}")


def new_revision(track: str, message: str) -> str:
    """Write the next revision of a track from the template; returns its path."""
    cfg = config(track)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    rev_id = f"{int(head) + 1:04d}" if head else "0001"
    created = command.revision(cfg, message=message, rev_id=rev_id,
                               version_path=str(REVISIONS / track))
    return created.path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sempervirens.store.migrations",
        description="The stores' Alembic revisions (they run at start: `sempervirens serve`).")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write the next revision of a store")
    revision.add_argument("store", choices=TRACKS)
    revision.add_argument("-m", "--message", required=True, help="what it changes, one line")
    history = commands.add_parser("history", help="list a store's revisions")
    history.add_argument("store", choices=TRACKS)
    args = parser.parse_args(argv)
    if args.command == "revision":
        print(new_revision(args.store, args.message))
    else:
        command.history(config(args.store))


if __name__ == "__main__":
    main()

"""The pings' index in (day, project, client, report) order (runner's 0004_pings_day_client_report).

On PostgreSQL it orders each client-day's reports from the greatest down, NULLs
last, and covers them (0b5527d); on SQLite it is (day, project, client) only, as
e8620a0 narrowed it before the next step shipped.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REPORTED = ("project_version", "os", "arch", "python_version", "is_ci")


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("DROP INDEX IF EXISTS ix_pings_day_client")
    if "ix_pings_day_client_report" in {i["name"] for i in sa.inspect(bind).get_indexes("pings")}:
        return
    if bind.dialect.name == "postgresql":
        op.create_index("ix_pings_day_client_report", "pings",
                        ["day", "project", "client_id",
                         *(sa.text(f"{name} DESC NULLS LAST") for name in REPORTED)],
                        postgresql_include=["ping_type"])
    else:
        op.create_index("ix_pings_day_client_report", "pings", ["day", "project", "client_id"])


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")

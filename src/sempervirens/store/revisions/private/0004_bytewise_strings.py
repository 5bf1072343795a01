"""PostgreSQL: every string column in collation "C" (runner's 0004_bytewise_strings).

Compared byte by byte, as the step's last version (0a425cb) did it.  The indexes
that hold them are rebuilt; no table is.  Alembic's own alembic_version is left as
it is (the runner's step predates it).
"""

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    columns = bind.execute(text("""
        SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length
        FROM information_schema.columns c JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          AND c.table_name <> 'alembic_version'
          AND c.collation_name IS DISTINCT FROM 'C'
          AND c.data_type IN ('character varying', 'text')
        ORDER BY c.table_name, c.ordinal_position"""))
    by_table: dict[str, list[str]] = {}
    for table, column, kind, length in columns:
        declared = "TEXT" if kind == "text" else f"VARCHAR({length})" if length else "VARCHAR"
        by_table.setdefault(table, []).append(
            f'ALTER COLUMN "{column}" TYPE {declared} COLLATE "C"')
    for table, changes in by_table.items():  # one statement: each index rebuilt once
        op.execute(f'ALTER TABLE "{table}" {", ".join(changes)}')


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")

"""access_log.network: the /64 of an IPv6 address, NULL for an IPv4 one.

Revision 0005 of the private store.  Anomaly detection counts the installations behind
one source: for IPv6 that is a /64, all of whose addresses one host may use, so counting
by address let a single host report any number of installations unseen
(model/sources.py).  Rows already logged get theirs here.
"""

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    op.add_column("access_log", sa.Column("network", sa.String(45)))
    bind = op.get_bind()
    # The 0004 step gave every string column collation "C" on PostgreSQL; so does this.
    if bind.dialect.name == "postgresql":
        op.execute('ALTER TABLE access_log ALTER COLUMN network TYPE VARCHAR(45) COLLATE "C"')
    # A copy of model.sources.ipv6_network as it is today: a revision does not change with the code.
    ips = bind.execute(sa.text("SELECT DISTINCT ip FROM access_log WHERE ip LIKE '%:%'"))
    rows = [{"ip": ip, "network": str(ipaddress.IPv6Network((ip, 64), strict=False))}
            for ip in ips.scalars()]
    if not rows:
        return
    # One UPDATE looking each row's network up by its address (the log has no index on
    # it: an UPDATE per address would scan the whole log as many times).
    op.execute("CREATE TEMPORARY TABLE networks (ip VARCHAR(45) PRIMARY KEY, "
               "network VARCHAR(45) NOT NULL)")
    for start in range(0, len(rows), BATCH):
        bind.execute(sa.text("INSERT INTO networks (ip, network) VALUES (:ip, :network)"),
                     rows[start:start + BATCH])
    op.execute("UPDATE access_log SET network = (SELECT n.network FROM networks AS n "
               "WHERE n.ip = access_log.ip) WHERE ip LIKE '%:%'")
    op.execute("DROP TABLE networks")

def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")

"""Fixture data: the hand-written migration runner and the tables it created, frozen
as they were when Alembic replaced it (commit 6d7127d: store/migrations.py,
store/schema.py, aggregate/tables.py, admin/tables.py, copied verbatim but for
their imports of each other).  Tests replay its steps to make the stores that
operators have, and check that they are adopted (store/migrations.py).  Never
update it to today's tables."""

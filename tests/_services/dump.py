"""Every value of every table of a store, as text: for tests that hunt for a leak."""

from __future__ import annotations

from sqlalchemy import MetaData, select

from sempervirens.store import create_store_engine


def dump_store(url: str) -> str:
    engine = create_store_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        lines = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    lines.append(f"{table.name}: " + " | ".join(str(value) for value in row))
        return "\n".join(lines)
    finally:
        engine.dispose()


def store_urls_of(server) -> tuple[str, str]:
    """The (telemetry, private) URLs a running test server writes to."""
    return (server.option("--database") or f"sqlite:///{server.data_dir / 'telemetry.db'}",
            server.option("--private-database") or f"sqlite:///{server.data_dir / 'private.db'}")



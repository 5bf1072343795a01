"""The lake: closed UTC days of the telemetry store as Parquet (layout in model/lake.py).

    lake = Lake(settings["lake"])            # a directory, or s3://..., gs://..., hdfs://...
    seal(engine, lake, now=now, grace=timedelta(hours=2))
    prune(engine, lake, now=now, margin_days=2)
    lake.files("counters")                   # for DuckDB's read_parquet, or Spark
    delete_clients(lake, ["<uuid>", ...])    # after the hot store's deletion

docs/lake.md says what each guarantees.
"""

from ._delete import LakeDeletionIncomplete, LakeDeletionReport, delete_clients
from ._layout import FileEntry, Lake, LakeError
from ._seal import PruneReport, SealReport, closed_store_days, prune, seal, sealable_through

__all__ = [
    "FileEntry",
    "Lake",
    "LakeDeletionIncomplete",
    "LakeDeletionReport",
    "LakeError",
    "PruneReport",
    "SealReport",
    "closed_store_days",
    "delete_clients",
    "prune",
    "seal",
    "sealable_through",
]

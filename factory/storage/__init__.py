"""Writers and readers of dataset shards, one module per format, all with the same interface."""

from factory.storage.base import FORMATS, Piece, reader_for, writer_for
from factory.storage.records import check_records

__all__ = ["FORMATS", "Piece", "check_records", "reader_for", "writer_for"]

"""Writers and readers of dataset shards, one module per format, all with the same interface."""

from factory.storage.base import FORMATS, reader_for, writer_for

__all__ = ["FORMATS", "reader_for", "writer_for"]

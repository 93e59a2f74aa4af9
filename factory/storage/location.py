"""Where a dataset lives: a local folder, or a folder under any fsspec URL (s3://, gs://, memory://, …).

Runs, resumes, verification and reading go through a location, so only this module knows how a
file gets into place. Writers never see a remote filesystem: a remote shard is written to a local
staging folder, hashed there, and each file is uploaded under its final name with one PUT. An
object store makes an object visible only when its upload completes, which is the atomic write
there; on other filesystems (memory://, sftp://, …) a file is uploaded under a hidden temporary
name and renamed. A local folder (or a file:// URL) keeps the plain write-and-rename path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from factory.errors import StorageError

# object stores: an object appears whole when its PUT (or multipart upload) completes
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_MANGLED_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/[^/]")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `path`; rename it to `path` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_stream(f: IO[bytes], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    while block := f.read(chunk):
        digest.update(block)
    return digest.hexdigest()


class LocalDir:
    """A dataset folder on a local (or mounted) disk."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def for_workers(self) -> LocalDir:
        """The same folder as named from another process, which has its own working directory."""
        return LocalDir(self.root.absolute())

    def local_path(self) -> Path:
        return self.root

    def exists(self) -> bool:
        return self.root.exists()

    def is_file(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write atomically: readers see the old file or the new one, never part of it."""
        with atomic_path(self.root / rel) as tmp:
            tmp.write_bytes(data)

    def size(self, rel: str) -> int | None:
        """Bytes of a file, or None when there is no such file."""
        path = self.root / rel
        return path.stat().st_size if path.is_file() else None

    def sha256(self, rel: str) -> str:
        with open(self.root / rel, "rb") as f:
            return sha256_stream(f)

    def names(self) -> list[str]:
        """Top-level entries (files and folders)."""
        return [p.name for p in self.root.iterdir()] if self.root.is_dir() else []

    def files(self) -> list[str]:
        """Every file below the root, as POSIX paths relative to it (symbolic links are not followed
        and not listed: see `links`)."""
        return [rel for rel, link in self._walk() if not link]

    def links(self) -> list[str]:
        """Symbolic links below the root: never the factory's, never followed."""
        return [rel for rel, link in self._walk() if link]

    def _walk(self) -> Iterator[tuple[str, bool]]:
        for folder, dirs, names in os.walk(self.root):
            for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                path = Path(folder, name)
                if path.is_symlink() or path.is_file():
                    yield path.relative_to(self.root).as_posix(), path.is_symlink()

    def prune(self) -> None:
        """Remove folders left empty below the root (a dataset's emptied shard folders)."""
        for folder, _, _ in sorted(os.walk(self.root), key=lambda w: -len(w[0])):
            if Path(folder) != self.root and not os.listdir(folder):
                os.rmdir(folder)

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """The folder writers write a shard into: the dataset itself, which their renames keep atomic."""
        yield self.root

    def publish(self, folder: Path, rels: list[str]) -> None:
        """Files staged in `staging()` are in place already."""

    @contextlib.contextmanager
    def open_read(self, rel: str) -> Iterator[Path]:
        """What pyarrow and h5py open: the path itself, so they use their native file drivers."""
        yield self.root / rel


class RemoteDir:
    """A dataset folder under an fsspec URL; the filesystem is made lazily in each process that uses it.

    Pickles as (url, storage_options) only, so a dask worker builds its own client from the options
    the run was given, not from whatever configuration its process happens to have.
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None):
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self._fs: Any = None
        self._root = ""

    def __reduce__(self) -> tuple[type, tuple[str, dict[str, Any]]]:
        return RemoteDir, (self.url, self.storage_options)

    def __str__(self) -> str:
        return self.url

    @property
    def fs(self) -> Any:
        """The fsspec filesystem, made on first use in this process."""
        self._connect()
        return self._fs

    @property
    def fs_root(self) -> str:
        """The root as the filesystem names it (`bucket/path`)."""
        self._connect()
        return self._root

    @property
    def object_store(self) -> bool:
        protocols = self.fs.protocol
        return bool(OBJECT_STORES & set([protocols] if isinstance(protocols, str) else protocols))

    def path(self, rel: str) -> str:
        return f"{self.fs_root}/{rel}"

    def _connect(self) -> None:
        if self._fs is not None:
            return
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise StorageError(f"{self.url}: URLs need fsspec and the filesystem's package: "
                               "pip install -e '.[cloud]' (s3fs; gcsfs, adlfs for gs://, az://)") from None
        # a private instance: listings cached by another instance (or an earlier command in this
        # process) must not hide what is there now
        try:
            fs, root = url_to_fs(self.url, **{"skip_instance_cache": True, **self.storage_options})
        except (ImportError, ValueError) as exc:
            raise StorageError(f"{self.url}: {exc}") from None
        self._fs, self._root = fs, root.rstrip("/")

    def for_workers(self) -> RemoteDir:
        return self

    def local_path(self) -> Path:
        raise StorageError(f"{self.url}: this needs a dataset on a local disk; copy it there first "
                           "(e.g. `aws s3 sync URL DIR`)")

    def exists(self) -> bool:
        with self._contact():
            return self.fs.exists(self.fs_root)

    def is_file(self, rel: str) -> bool:
        return self.fs.isfile(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self.path(rel))

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._commit(rel, lambda target: self.fs.pipe_file(target, data))

    def create_exclusive(self, rel: str, data: bytes) -> None:
        """Create a file that must not exist yet; FileExistsError if it does.

        Atomic where the filesystem makes it so (S3 and compatible stores: a conditional PUT,
        If-None-Match: *); fsspec's fallback for others checks and then writes.
        """
        with self._contact():
            self.fs.pipe_file(self.path(rel), data, mode="create")

    def size(self, rel: str) -> int | None:
        try:
            return int(self.fs.size(self.path(rel)))
        except FileNotFoundError:
            return None

    def sha256(self, rel: str) -> str:
        with self.fs.open(self.path(rel), "rb") as f:
            return sha256_stream(f)

    def names(self) -> list[str]:
        try:
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.fs_root, detail=False)]
        except FileNotFoundError:
            return []

    def files(self) -> list[str]:
        prefix = self.fs_root + "/"
        return [p.removeprefix(prefix) for p in self.fs.find(self.fs_root)]

    def remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(rel))

    def links(self) -> list[str]:
        return []  # object stores and fsspec filesystems list objects, not links

    def prune(self) -> None:
        """Nothing: an object store has no folders to leave empty."""

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="factory-shard-") as folder:
            yield Path(folder)

    def publish(self, folder: Path, rels: list[str]) -> None:
        """Upload staged files to their final names."""
        for rel in rels:
            self._commit(rel, functools.partial(self.fs.put_file, os.fspath(folder / rel)))

    @contextlib.contextmanager
    def open_read(self, rel: str) -> Iterator[IO[bytes]]:
        with self.fs.open(self.path(rel), "rb") as f:
            yield f

    def _commit(self, rel: str, put: Callable[[str], object]) -> None:
        """Put a file in place whole: one upload on an object store, else upload under a hidden name and rename."""
        final = self.path(rel)
        if self.object_store:
            put(final)
            return
        parent, name = final.rsplit("/", 1)
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
        try:
            put(tmp)
            self.fs.mv(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(tmp)

    @contextlib.contextmanager
    def _contact(self) -> Iterator[None]:
        """The first calls a command makes: turn a missing bucket, refused credentials or an unreachable
        endpoint into one clear error instead of a client library's traceback."""
        try:
            yield
        except FileExistsError:
            raise
        except OSError as exc:
            raise StorageError(f"{self.url}: {type(exc).__name__}: {exc}") from None


Location = LocalDir | RemoteDir


def location(target: str | os.PathLike[str] | Location, storage_options: dict[str, Any] | None = None) -> Location:
    """The location a user names: a local path, a file:// URL, or any other fsspec URL."""
    if isinstance(target, LocalDir | RemoteDir):
        if storage_options:
            raise ValueError("storage_options go with a URL, not with a location already made")
        return target
    text = os.fspath(target)
    match = _URL.match(text)
    if match and match.group(1).lower() != "file":
        return RemoteDir(text, storage_options)
    if storage_options:
        raise StorageError(f"{text}: storage options apply to URLs (s3://…), not to local paths")
    if match:
        return LocalDir(Path(text[len("file://"):]))
    if _MANGLED_URL.match(text):
        raise StorageError(f"{text}: looks like a URL that lost a '/' (pass URLs as str, not Path)")
    return LocalDir(Path(text))


def parse_storage_option(text: str) -> tuple[str, Any]:
    """KEY=VALUE from the command line; VALUE is JSON when it parses (true, 3, {"region_name": …}), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value

"""Naming a dataset's location: paths, URLs, storage options, and what a task carries to a worker."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from factory.cli import main
from factory.errors import StorageError
from factory.generate.provenance import redacted
from factory.storage.location import LocalDir, RemoteDir, location, parse_storage_option


def test_paths_and_file_urls_are_local_folders(tmp_path):
    assert isinstance(location(tmp_path), LocalDir) and location(tmp_path).root == tmp_path
    assert location(f"file://{tmp_path}").root == tmp_path
    assert location("outputs/x").root == Path("outputs/x")


def test_other_urls_are_remote_and_keep_their_options():
    where = location("s3://bucket/ds/", {"endpoint_url": "http://127.0.0.1:9000"})
    assert isinstance(where, RemoteDir) and str(where) == "s3://bucket/ds"
    assert location(where) is where


def test_a_task_carries_url_and_options_not_a_client():
    """What a dask worker gets: it builds its own filesystem from the options the run was given."""
    where = location("memory://bucket/ds", {"skip_instance_cache": False})
    where.fs  # noqa: B018 -- build the client here first
    copy = pickle.loads(pickle.dumps(where))
    assert (copy.url, copy.storage_options, copy._fs) == (where.url, where.storage_options, None)


@pytest.mark.parametrize("target, options, match", [
    ("s3:/bucket/ds", None, "looks like a URL that lost a '/'"),
    ("outputs/x", {"anon": True}, "storage options apply to URLs"),
    ("nosuchprotocol://x/y", None, "nosuchprotocol://x/y: .*nosuchprotocol"),
])
def test_mistakes_are_named(target, options, match):
    with pytest.raises(StorageError, match=match):
        location(target, options).fs  # noqa: B018


def test_storage_option_values_are_json_when_they_parse():
    assert parse_storage_option("endpoint_url=http://h:9000") == ("endpoint_url", "http://h:9000")
    assert parse_storage_option("anon=true") == ("anon", True)
    assert parse_storage_option('client_kwargs={"region_name": "eu"}') == ("client_kwargs", {"region_name": "eu"})
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_storage_option("anon")


def test_bad_storage_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "s3://b/ds", "--storage-option", "anon"])
    assert exc.value.code == 2 and "expected KEY=VALUE, got 'anon'" in capsys.readouterr().err


def test_manifest_command_hides_storage_option_values():
    argv = ["factory", "run", "r.yaml", "--out", "s3://b/x", "--storage-option", "secret=abc",
            "--storage-option=key=k1", "--storage-opt", "token=t", "--quiet"]
    assert redacted(argv) == ["factory", "run", "r.yaml", "--out", "s3://b/x", "--storage-option", "secret=***",
                              "--storage-option=key=***", "--storage-opt", "token=***", "--quiet"]

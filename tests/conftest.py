"""Shared fixtures. Genesis scenes cost a kernel compilation the first time (minutes, cached on
disk afterwards), so tests reuse a few small datasets built once per session."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe
from factory.storage import FORMATS

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


def small(name: str, **update) -> Recipe:
    """A shipped collision recipe with some top-level fields replaced, validated again."""
    recipe = load_recipe(RECIPES / "collision" / f"{name}.yaml")
    return Recipe.model_validate(recipe.model_dump() | update)


@pytest.fixture(scope="session")
def push_target_dataset(tmp_path_factory) -> Path:
    """8 episodes of the Physion-style push recipe, both formats, 2 shards."""
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("push_target")
    recipe = small("push_target", episodes=8, n_envs=4,
                   outputs={"formats": list(FORMATS), "record_every": 5, "shard_size": 4})
    run(recipe, out)
    return out


@pytest.fixture(scope="session")
def sliding_box_dataset(tmp_path_factory) -> Path:
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("sliding_box")
    run(small("sliding_box", episodes=8, n_envs=4), out)
    return out


@pytest.fixture(scope="session")
def push_target_32(tmp_path_factory) -> Path:
    """32 push episodes in 4 shards (Parquet + HDF5), balls of 0.85-1 kg held out for OOD tests:
    enough held-out data to score a trained model."""
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("push_target_32")
    recipe = small("push_target", episodes=32, n_envs=8,
                   outputs={"formats": list(FORMATS), "record_every": 5, "shard_size": 8},
                   quality={"holdout": {"ball.mass": [0.85, 1.0]}})
    run(recipe, out)
    return out


SHARDED_OUTPUTS = {"formats": list(FORMATS), "record_every": 2, "shard_size": 4}


def sharded(**update) -> Recipe:
    """The sliding box as 16 short episodes in 4 shards: what the resume and verify tests run."""
    return small("sliding_box", **({"episodes": 16, "steps": 40, "n_envs": 4, "outputs": SHARDED_OUTPUTS} | update))


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


@pytest.fixture(scope="session")
def sharded_dataset(tmp_path_factory) -> Path:
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("sharded") / "ds"
    run(sharded(), out)
    return out


@pytest.fixture
def copy(sharded_dataset, tmp_path) -> Path:
    """A private copy of `sharded_dataset` to damage or resume."""
    return Path(shutil.copytree(sharded_dataset, tmp_path / "ds"))


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    """A real S3 HTTP API on 127.0.0.1: moto's server in a process of its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def s3_options(endpoint: str) -> dict:
    """Everything a client needs, passed explicitly: nothing comes from this process's environment."""
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A new empty bucket; returns its name."""
    import s3fs

    name = f"test-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True, **s3_options(s3_endpoint)).mkdir(name)
    return name

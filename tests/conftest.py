"""Shared fixtures, and the `genesis` mark given by what a test uses.

Genesis scenes cost a kernel compilation the first time (minutes, cached on disk afterwards), so
tests reuse a few small datasets built once per session. A test needs Genesis, and gets the
`genesis` mark here, if it uses one of those datasets (directly or through another fixture), runs
parametrized with `engine="genesis"`, or sits in a module that imports the Genesis engine at its
top; tests that run a Genesis recipe some other way carry the mark themselves. `-m "not genesis"`
then runs without the engine, and a run that selected no `genesis` test fails if Genesis got
imported anyway (a test that needs the mark lacks it). Helpers live in `helpers.py`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from helpers import s3_options, sharded, shipped, small

from engines.gl import choose_backend
from factory.recipe.schema import Recipe
from factory.storage import FORMATS

choose_backend()  # before any test module imports mujoco, which reads MUJOCO_GL once

GENESIS_DATASETS: set[str] = set()
"""Names of the fixtures below that run a recipe on Genesis."""


def genesis_dataset(fn: Callable) -> Callable:
    """A session fixture that builds a dataset with the Genesis engine: its users get the `genesis` mark."""
    GENESIS_DATASETS.add(fn.__name__)
    return pytest.fixture(scope="session")(fn)


# where Genesis scenes are built from: a test module holding any of these at its top needs Genesis (one
# holding pure helpers of the adapter, such as engines.genesis.bounds or .restitution, does not)
GENESIS_MODULES = ("genesis", "engines.genesis", "engines.genesis.engine")


def _imports_genesis(module: ModuleType) -> bool:
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and (name in GENESIS_MODULES or name.startswith("genesis.")):
            return True
    return False


def _engine_marks(config) -> set[str]:
    """Registered marks named after an engine (`genesis`, `unity`)."""
    from engines import ENGINES

    return {line.split(":")[0].strip() for line in config.getini("markers")} & set(ENGINES)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config, items):
    marks = _engine_marks(config)
    modules: dict[object, bool] = {}
    for item in items:
        engine = getattr(item, "callspec", None) and item.callspec.params.get("engine")
        if isinstance(engine, str) and engine in marks:
            item.add_marker(engine)
        module = getattr(item, "module", None)
        if module is not None and module not in modules:
            modules[module] = _imports_genesis(module)
        if GENESIS_DATASETS.intersection(getattr(item, "fixturenames", ())) or modules.get(module):
            item.add_marker("genesis")


def pytest_sessionfinish(session, exitstatus):
    """The engine-free lane's promise: no `genesis` test selected, no Genesis in this process."""
    items = getattr(session, "items", None)
    if items and "genesis" in sys.modules and not any(i.get_closest_marker("genesis") for i in items):
        session.config.get_terminal_writer().line(
            "\nGenesis was imported although no selected test has the `genesis` mark: a test that needs "
            "the engine lacks it (see tests/conftest.py)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@genesis_dataset
def push_target_dataset(tmp_path_factory) -> Path:
    """8 episodes of the Physion-style push recipe, both formats, 2 shards."""
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("push_target")
    recipe = small("push_target", episodes=8, n_envs=4,
                   outputs={"formats": list(FORMATS), "record_every": 5, "shard_size": 4})
    run(recipe, out)
    return out


@genesis_dataset
def sliding_box_dataset(tmp_path_factory) -> Path:
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("sliding_box")
    run(small("sliding_box", episodes=8, n_envs=4), out)
    return out


@genesis_dataset
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


@genesis_dataset
def dam_break_dataset(tmp_path_factory) -> Path:
    """Two full dam-break episodes (two scene variants, one episode each), 512 particles recorded."""
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("dam")
    run(shipped("fluid/dam_break.yaml", episodes=2, n_envs=1), out)
    return out


@genesis_dataset
def drape_dataset(tmp_path_factory) -> Path:
    """The drape recipe with a still ball (so the sheet must come to rest on it), two episodes."""
    from factory.generate.runner import run

    still = shipped("cloth/drape.yaml", episodes=2, n_envs=1).model_dump()
    still["actions"][0]["velocity"] = [0.0, 0.0, 0.0]
    out = tmp_path_factory.mktemp("drape")
    run(Recipe.model_validate(still), out)
    return out


@genesis_dataset
def sharded_dataset(tmp_path_factory) -> Path:
    from factory.generate.runner import run

    out = tmp_path_factory.mktemp("sharded") / "ds"
    run(sharded(), out)
    return out


@pytest.fixture(scope="module")
def hand_made_dataset(tmp_path_factory):
    """Six hand-made collision episodes in two shards, every format (no engine): (root, records)."""
    from hand_made import write_dataset

    root = tmp_path_factory.mktemp("hand_made")
    return root, write_dataset(root)


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


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A new empty bucket; returns its name."""
    import s3fs

    name = f"test-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True, **s3_options(s3_endpoint)).mkdir(name)
    return name

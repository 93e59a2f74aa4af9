"""The dataset card, the physics certificate and replay (`factory.certify`, `factory.generate.replay`):
a fresh MuJoCo dataset loads with `datasets.load_dataset`, certifies clean and replays identical; an
energy jump fails the certificate; a consistent forgery (states changed, every checksum and state
hash recomputed to match) passes `verify` and is caught by replay."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import manifest, s3_options, small
from PIL import Image

from factory.certify.card import CARD, PREVIEW
from factory.certify.certificate import VALIDITY
from factory.certify.documents import rewrite_documents
from factory.cli import main
from factory.errors import FactoryError
from factory.generate.plan import Shard
from factory.generate.replay import choose, replay
from factory.generate.runner import run
from factory.generate.shard import write_shard
from factory.storage import FORMATS
from factory.storage.dataset import Dataset
from factory.storage.location import location
from factory.storage.manifest import WRITTEN_FIELDS, write_manifest
from factory.storage.verify import verify

MUJOCO = {"type": "mujoco"}
JUMP_STEP = 30  # a transition well after the push (steps 5-30 of 250, recorded every 5)


@pytest.fixture(scope="module")
def pushes(tmp_path_factory) -> Path:
    """8 push_target episodes on MuJoCo in 2 shards, Parquet and HDF5."""
    out = tmp_path_factory.mktemp("card") / "pt"
    run(small("push_target", episodes=8, engine=MUJOCO,
              outputs={"formats": list(FORMATS), "record_every": 5, "shard_size": 4}), out)
    return out


@pytest.fixture
def pushes_copy(pushes, tmp_path) -> Path:
    return Path(shutil.copytree(pushes, tmp_path / "pt"))


def front_matter(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


def forge(root: Path, episode: int, change) -> None:
    """Rewrite `episode`'s states with `change` in every format and recompute every checksum and state
    hash to match: what a careful forger does."""
    forge_rollout(root, episode, lambda r: replace(r, states=change(r.states.copy())))


def forge_rollout(root: Path, episode: int, change) -> None:
    """`forge` with `change` taking and returning the whole rollout (states, points, …)."""
    m, ds = manifest(root), Dataset(root)
    for entry in m["shards"]:
        if entry["episodes"][0] <= episode < entry["episodes"][1]:
            records = [replace(r, rollout=change(r.rollout)) if r.index == episode else r
                       for r in ds.records(range(*entry["episodes"]))]
            entry["files"] = write_shard(root, Shard(entry["id"], *entry["episodes"]), records, ds.layout,
                                         m["formats"])["files"]
    write_manifest(root, m)
    rewrite_documents(location(root))


def energy_jump(states: np.ndarray) -> np.ndarray:
    """The ball (the first object: its velocity is state columns 7-9) 4 m/s faster from JUMP_STEP on."""
    states[JUMP_STEP:, 7:10] += np.float32(4.0)
    return states


def nudge(states: np.ndarray) -> np.ndarray:
    """The ball's x from state 20 on moved by one float32 step: invisible to every other check."""
    states[20:, 0] = np.nextafter(states[20:, 0], np.float32(np.inf))
    return states


def test_run_writes_card_and_certificate_listed_in_the_manifest(pushes):
    documents = {d["path"] for d in manifest(pushes)["documents"]}
    assert documents == {CARD, VALIDITY}
    assert set(manifest(pushes)) == set(WRITTEN_FIELDS)  # what an older manifest is told it lacks
    assert verify(pushes) == []
    meta = front_matter((pushes / CARD).read_text())
    assert meta["license"] == "cc-by-4.0"
    assert meta["size_categories"] == ["n<1K"]
    assert {"physics", "collision", "mujoco"} <= set(meta["tags"])
    assert [c["config_name"] for c in meta["configs"]] == ["transitions", "episodes"]


def test_load_dataset_reads_the_transitions(pushes):
    datasets = pytest.importorskip("datasets")
    transitions = datasets.load_dataset(str(pushes), split="train")
    assert transitions.num_rows == manifest(pushes)["counts"]["transitions"]
    assert len(transitions[0]["state"]) == manifest(pushes)["features"]["state"]["shape"][0]
    episodes = datasets.load_dataset(str(pushes), "episodes", split="train")
    assert episodes.num_rows == 8


def test_card_says_what_the_dataset_is(pushes):
    card = (pushes / CARD).read_text()
    for section in ("# push_target", "## Parameters", "## Episode labels", "## Physics certificate",
                    "## Provenance", "## Loading", "`ball.mass`", "touched__ball__target", "recipe sha256"):
        assert section in card
    assert manifest(pushes)["recipe_hash"] in card


def test_clean_dataset_passes_the_certificate(pushes):
    cert = json.loads((pushes / VALIDITY).read_text())
    assert cert["passed"], [f for f in cert["figures"] if not f["passed"]]
    names = {f["name"] for f in cert["figures"]}
    assert {"non-finite values", "energy gained without an action", "momentum residual across free contacts",
            "penetration at rest (99.9th percentile)", "impact compliance time (median)"} == names
    assert set(cert["not_measured"]) == {"restitution", "sliding deceleration"}  # no restitution; a ball rolls
    assert all({"value", "threshold", "passed"} <= set(f) for f in cert["figures"])
    assert sorted(cert["episode_states_sha256"], key=int) == [str(i) for i in range(8)]
    assert cert["replay"]["engine"]["name"] == "mujoco" and cert["replay"]["platform"]


def test_energy_jump_fails_the_certificate(pushes_copy):
    forge(pushes_copy, 3, energy_jump)
    cert = json.loads((pushes_copy / VALIDITY).read_text())
    energy = next(f for f in cert["figures"] if f["name"] == "energy gained without an action")
    assert not cert["passed"] and not energy["passed"]
    assert energy["worst_episodes"][0] == 3
    assert "**failed**" in (pushes_copy / CARD).read_text()


def test_replay_passes_a_fresh_dataset(pushes):
    ds = Dataset(pushes)
    done = replay(ds, choose(ds, 2, seed=0))
    assert len(done.results) == 2 and done.identical
    assert done.engine["name"] == "mujoco" and done.engine["version"] == manifest(pushes)["engine"]["version"]


def test_replay_catches_a_consistent_forgery(pushes_copy, capsys):
    forge(pushes_copy, 5, nudge)
    assert verify(pushes_copy) == []  # every checksum agrees: only a re-simulation tells
    assert main(["verify", str(pushes_copy), "--replay-episodes", "4,5"]) == 1
    out, err = capsys.readouterr()
    assert "episode 4: identical" in out
    assert "episode 5: different from step 20, field state ball.pos.x" in err
    assert "do not replay" in err and "factory run" not in err  # rerunning would not mend a forgery
    # the replay is recorded in the certificate and the card, both listed in the manifest again
    cert = json.loads((pushes_copy / VALIDITY).read_text())
    (last,) = cert["replay"]["results"]
    assert last["episodes"] == [{"episode": 4, "identical": True},
                                {"episode": 5, "identical": False, "step": 20, "field": "state ball.pos.x"}]
    assert not last["identical"] and last["engine"]["name"] == "mujoco" and last["platform"] and last["at"]
    assert "- episode 5: **different** from step 20, field `state ball.pos.x`" in (pushes_copy / CARD).read_text()
    assert verify(pushes_copy) == []
    rewrite_documents(location(pushes_copy))  # `factory card` again: same states, the replay stays
    assert json.loads((pushes_copy / VALIDITY).read_text())["replay"]["results"] == [last]


def test_overwrite_replaces_a_carded_dataset(pushes_copy):
    run(small("sliding_box", episodes=1, engine=MUJOCO), pushes_copy, overwrite=True)
    assert manifest(pushes_copy)["counts"]["episodes"] == 1 and verify(pushes_copy) == []
    assert "# sliding_box" in (pushes_copy / CARD).read_text()


def test_card_command_rewrites_the_documents_with_a_preview(pushes_copy, capsys):
    (pushes_copy / CARD).unlink()
    assert verify(pushes_copy) == [f"{CARD}: missing"]
    assert main(["card", str(pushes_copy)]) == 0
    assert verify(pushes_copy) == []  # the preview is listed with its sha256 too
    out = capsys.readouterr().out
    assert "certificate passed" in out and f"card preview: episode 0 in {pushes_copy}/{PREVIEW}" in out
    listed = {d["path"]: d for d in manifest(pushes_copy)["documents"]}
    assert listed[PREVIEW]["episode"] == 0
    with Image.open(pushes_copy / PREVIEW) as gif:
        assert gif.format == "GIF" and gif.n_frames > 10
    assert f"![episode 0, top and side views]({PREVIEW})" in (pushes_copy / CARD).read_text()
    rewrite_documents(location(pushes_copy))  # measured again: the preview stays linked and listed
    assert f"]({PREVIEW})" in (pushes_copy / CARD).read_text() and verify(pushes_copy) == []


def test_card_renders_without_a_preview_when_none_can_be_drawn(pushes_copy, capsys, monkeypatch):
    import factory.preview

    def no_matplotlib():
        raise FactoryError("factory preview needs matplotlib: pip install 'physics-data-factory[preview]'")

    monkeypatch.setattr(factory.preview, "_pyplot", no_matplotlib)
    assert main(["card", str(pushes_copy)]) == 0
    assert "no preview in the card: factory preview needs matplotlib" in capsys.readouterr().out
    card = (pushes_copy / CARD).read_text()
    assert PREVIEW not in card and "## Physics certificate" in card
    assert not (pushes_copy / PREVIEW).exists() and verify(pushes_copy) == []


def test_one_episode_dataset_has_a_card(tmp_path):
    run(small("billiards", episodes=1, engine=MUJOCO), tmp_path / "one")
    card = (tmp_path / "one" / CARD).read_text()
    assert "1 episodes" in card and "## Physics certificate" in card
    assert json.loads((tmp_path / "one" / VALIDITY).read_text())["episodes"] == 1


def test_card_and_certificate_under_a_url(s3_bucket, s3_endpoint):
    where = location(f"s3://{s3_bucket}/pt-{uuid.uuid4().hex[:6]}", s3_options(s3_endpoint))
    run(small("sliding_box", episodes=2, engine=MUJOCO), where)
    assert front_matter(where.read_bytes(CARD).decode())["license"] == "cc-by-4.0"
    assert json.loads(where.read_bytes(VALIDITY))["passed"]
    assert rewrite_documents(where).endswith("certificate passed") and verify(where) == []


def test_hf_and_lerobot_exports_carry_the_card(pushes_copy, tmp_path):
    """Each export's README.md is the source's card, naming the export's own files for the Hub (LeRobot's
    frames as its default config: `load_dataset` reads them) or none (HF's `save_to_disk` folder), with
    the preview the card links."""
    datasets = pytest.importorskip("datasets")
    from factory.export import export
    from factory.preview import card_preview

    card_preview(location(pushes_copy))
    export(pushes_copy, "hf", tmp_path / "hf")
    hf_card = (tmp_path / "hf" / CARD).read_text()
    meta = front_matter(hf_card)
    assert meta["license"] == "cc-by-4.0" and "configs" not in meta  # the export holds no Parquet folders
    assert f"*Exported as hf from `{pushes_copy}`" in hf_card and "## Physics certificate" in hf_card
    assert (tmp_path / "hf" / PREVIEW).read_bytes() == (pushes_copy / PREVIEW).read_bytes()
    assert datasets.load_from_disk(str(tmp_path / "hf"))["transitions"].num_rows == 400

    export(pushes_copy, "lerobot", tmp_path / "lr")
    meta = front_matter((tmp_path / "lr" / CARD).read_text())
    assert meta["configs"] == [{"config_name": "default", "data_files": "data/*/*.parquet"}]
    assert "LeRobot" in meta["tags"] and "mujoco" in meta["tags"]
    frames = datasets.load_dataset(str(tmp_path / "lr"), split="train")
    assert frames.num_rows == 400 and "observation.state" in frames.column_names


def test_merge_carries_its_sources_cards(pushes, pushes_copy, tmp_path):
    """The merged card lists each source with its certificate's verdict and last replay."""
    from factory.export.merge import merge

    forge(pushes_copy, 3, energy_jump)
    assert main(["verify", str(pushes_copy), "--replay-episodes", "2"]) == 0
    merge([pushes, pushes_copy], tmp_path / "merged")
    card = (tmp_path / "merged" / CARD).read_text()
    assert "merged from" in card and "## Physics certificate" in card and "## Sources" in card
    rows = [line for line in card.splitlines() if line.startswith(("| `" + str(pushes), "| `" + str(pushes_copy)))]
    assert len(rows) == 2 and rows[0].endswith("| passed |")
    assert "**failed**: energy gained without an action; replayed " in rows[1] and rows[1].endswith(": identical |")
    assert verify(tmp_path / "merged") == []
    assert main(["verify", str(tmp_path / "merged"), "--replay", "1"]) == 1


@pytest.mark.genesis
def test_fluid_card(dam_break_dataset):
    card = (dam_break_dataset / CARD).read_text()
    assert "liquid volume ratio" in card and front_matter(card)["tags"][4] == "fluid"
    assert verify(dam_break_dataset) == []


@pytest.mark.genesis
def test_compressed_liquid_fails_the_certificate(dam_break_dataset, tmp_path):
    """A dam-break episode's last state squashed to half its height over the floor fails the volume figure.
    (The clean full-length dam break reads 0.87-0.91 here, against 0.9: `volume_ratio` under-reads its
    thin final pool, see docs/card.md; the squashed one reads far below that.)"""
    root = Path(shutil.copytree(dam_break_dataset, tmp_path / "dam"))

    def squashed(rollout):
        pos = rollout.points["particle_pos"].copy()
        floor = pos[0, :, 2].min()
        pos[-1, :, 2] = floor + (pos[-1, :, 2] - floor) / 2
        return replace(rollout, points={**rollout.points, "particle_pos": pos})

    forge_rollout(root, 1, squashed)
    cert = json.loads((root / VALIDITY).read_text())
    ratio = next(f for f in cert["figures"] if f["name"] == "liquid volume ratio (lowest episode)")
    assert not cert["passed"] and not ratio["passed"] and ratio["worst_episodes"][0] == 1
    assert ratio["value"] < 0.7


def test_momentum_residual_on_hand_made_contacts():
    from factory.certify.rigid import momentum_residuals
    from factory.checks import make_body
    from factory.contract.rollout import Contacts, Layout

    layout = Layout(("a", "b"), ("ground", "a", "b"), 0.01)
    bodies = {"a": make_body("sphere", 1.0, (0.1,)), "b": make_body("sphere", 2.0, (0.1,))}
    states = np.zeros((2, layout.state_size), np.float32)
    states[:, 3] = states[:, 16] = 1.0  # unit quaternions
    states[0, 7], states[1, 7], states[1, 20] = 3.0, -1.0, 2.0  # a: 3 → -1 m/s, b: 0 → 2 m/s: 4 N·s each way
    zero = np.zeros((1, 3), np.float32)
    contacts = Contacts(np.ones(1, np.int32), np.ones(1, np.int16), np.full(1, 2, np.int16), zero,
                        np.array([[1.0, 0, 0]], np.float32), zero, np.zeros(1, np.float32))
    actions = np.zeros((1, 6), np.float32)
    assert momentum_residuals(states, actions, contacts, layout, bodies, set()) == pytest.approx([0.0])
    states[1, 20] = 0.0  # b never felt it: all 4 N·s lost
    assert momentum_residuals(states, actions, contacts, layout, bodies, set()) == pytest.approx([1.0])
    assert len(momentum_residuals(states, actions, contacts, layout, bodies, {"b"})) == 0  # b fixed: not free
    states[1, 20] = 1.9  # 0.2 N·s lost, of which the ground's friction may take 0.5·(1 + 2)·9.81·0.01 N·s
    residual = momentum_residuals(states, actions, contacts, layout, bodies, set(), {"a": 0.5, "b": 0.5})
    assert residual == pytest.approx([(0.2 - 1.5 * 9.81 * 0.01) / 4], rel=1e-4)


def test_license_comes_from_the_recipe(tmp_path):
    assert "license" not in small("sliding_box").model_dump()  # the default keeps every recipe's hash
    run(small("sliding_box", episodes=1, engine=MUJOCO, license="cc0-1.0"), tmp_path / "cc0")
    assert front_matter((tmp_path / "cc0" / CARD).read_text())["license"] == "cc0-1.0"


@pytest.mark.genesis
def test_cloth_card(drape_dataset):
    cert = json.loads((drape_dataset / VALIDITY).read_text())
    strain = next(f for f in cert["figures"] if f["name"] == "cloth edge strain (highest)")
    assert strain["passed"] and cert["passed"]
    assert "cloth edge strain" in (drape_dataset / CARD).read_text()


def test_documents_of_a_dataset_with_every_episode_quarantined(pushes_copy):
    from factory.certify.documents import write_documents

    m = manifest(pushes_copy)
    m["shards"] = [dict(s, files=[]) for s in m["shards"]]
    listed = write_documents(location(pushes_copy), m)["documents"]
    assert [d["path"] for d in listed] == [VALIDITY, CARD]
    assert json.loads((pushes_copy / VALIDITY).read_text())["episodes"] == 0


def figure_of(root: Path, name: str) -> dict:
    return next(f for f in json.loads((root / VALIDITY).read_text())["figures"] if f["name"] == name)


def test_sliding_deceleration_is_certified_and_a_faster_stop_fails(tmp_path):
    """A box sliding to rest decelerates at μ·g; the same states with every slide's speed loss doubled
    (velocities forged, positions left) fail the figure."""
    root = tmp_path / "slide"
    run(small("sliding_box", episodes=4, n_envs=4, steps=100, engine=MUJOCO), root)
    sliding = figure_of(root, "sliding deceleration against μ·g (median)")
    assert sliding["passed"] and sliding["slides"] >= 1

    def faster(states: np.ndarray) -> np.ndarray:
        vel = states[:, 7:9]
        states[:, 7:9] = vel[0] - 2 * (vel[0] - vel)
        return states

    for episode in range(4):
        forge(root, episode, faster)
    assert not figure_of(root, "sliding deceleration against μ·g (median)")["passed"]


def test_robot_tracking_is_certified_and_unfollowed_commands_fail(tmp_path):
    from helpers import shipped

    root = tmp_path / "push"
    run(shipped("robot/push_cube.yaml", episodes=2, n_envs=2, steps=300), root)
    cert = json.loads((root / VALIDITY).read_text())
    tracking = figure_of(root, "joint tracking of arm (median)")
    assert cert["passed"] and tracking["passed"] and tracking["transitions"] == 60
    assert "penetration at rest (99.9th percentile)" in {f["name"] for f in cert["figures"]}
    assert "energy and momentum" in cert["not_measured"]  # the motors do work

    def frozen(states: np.ndarray) -> np.ndarray:
        states[:, 13:20] = states[0, 13:20]  # the arm's joints never move, whatever it was told
        return states

    forge(root, 0, frozen)
    forge(root, 1, frozen)
    assert not figure_of(root, "joint tracking of arm (median)")["passed"]


def test_mesh_bodies_get_energy_and_momentum_figures(tmp_path):
    from helpers import shipped

    root = tmp_path / "mesh"
    run(shipped("collision/mesh_drop.yaml", episodes=2, n_envs=2, engine=MUJOCO), root)
    cert = json.loads((root / VALIDITY).read_text())
    assert "energy and momentum" not in cert["not_measured"]
    assert cert["passed"] and figure_of(root, "energy gained without an action")["passed"]


def make_older(root: Path, **recipe_update) -> None:
    """`root` as an earlier factory left it: format_version 2, without the manifest fields added since
    (and the card and certificate they list), its recipe's first object changed by `recipe_update`."""
    m = manifest(root)
    m["format_version"] = 2
    for newer in ("documents", "quarantined", "platform", "python", "git_commit"):
        del m[newer]
    del m["counts"]["quarantined"]
    m["recipe"]["scene"]["objects"][0].update(recipe_update)
    write_manifest(root, m)
    (root / CARD).unlink()
    (root / VALIDITY).unlink()


def test_card_and_verify_name_what_an_older_manifest_lacks(pushes_copy, capsys):
    make_older(pushes_copy)
    assert main(["verify", str(pushes_copy)]) == 0
    note = ("does not record: git_commit, python, platform, quarantined, documents, counts.quarantined; "
            "no card or certificate: `factory card DATASET` writes them")
    assert note in capsys.readouterr().out
    assert main(["card", str(pushes_copy), "--no-preview"]) == 0
    out = capsys.readouterr().out
    assert "certificate passed" in out and "preview" not in out and not (pushes_copy / PREVIEW).exists()
    card = (pushes_copy / CARD).read_text()
    assert "- not recorded in this manifest: git commit, platform, python, quarantined, counts.quarantined" in card
    assert "- format version: `2`" in card and verify(pushes_copy) == []
    assert main(["verify", str(pushes_copy), "--replay-episodes", "1"]) == 0  # recorded in the new certificate
    assert json.loads((pushes_copy / VALIDITY).read_text())["replay"]["results"][0]["identical"]


def test_card_says_why_it_cannot_measure_an_older_dataset(pushes_copy, tmp_path, capsys):
    make_older(pushes_copy, bounciness=0.5)  # a field this factory does not know
    assert main(["card", str(pushes_copy)]) == 0
    why = "its recipe does not validate under this factory (scene.objects.0.bounciness: Extra inputs are not permitted)"
    out = capsys.readouterr().out
    assert f"README.md written; no certificate: {why}" in out and f"no preview in the card: {why}" in out
    card = (pushes_copy / CARD).read_text()
    assert f"Not measured: {why}." in card and "## Episode labels" in card  # the tables still read
    assert not (pushes_copy / VALIDITY).exists() and verify(pushes_copy) == []
    assert main(["verify", str(pushes_copy), "--replay", "1"]) == 1
    assert f"cannot replay: {why}" in capsys.readouterr().err

    hdf5_only = tmp_path / "h5"
    run(small("sliding_box", episodes=1, engine=MUJOCO, outputs={"formats": ["hdf5"]}), hdf5_only)
    make_older(hdf5_only)
    assert main(["card", str(hdf5_only)]) == 0
    assert f"Not measured: {hdf5_only}: HDF5 format_version 2 is no longer read. The parameter and label " \
           "distributions are missing" in (hdf5_only / CARD).read_text()


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_card_preview_replay_and_export_under_a_url(scheme, tmp_path, capsys):
    """Every document command on a dataset named by an fsspec URL: the preview, the recorded replay and
    the carried card are written through the location, and `verify` checks them there."""
    url = f"memory://card-{uuid.uuid4().hex[:8]}/ds" if scheme == "memory" else f"file://{tmp_path}/ds"
    where = location(url)
    run(small("sliding_box", episodes=2, n_envs=2, steps=60, engine=MUJOCO), where)
    assert json.loads(where.read_bytes(VALIDITY))["passed"]
    assert main(["card", url]) == 0
    assert f"card preview: episode 0 in {where}/{PREVIEW}" in capsys.readouterr().out
    assert f"]({PREVIEW})" in where.read_bytes(CARD).decode() and where.read_bytes(PREVIEW)[:3] == b"GIF"
    assert main(["verify", url, "--replay-episodes", "1"]) == 0
    (last,) = json.loads(where.read_bytes(VALIDITY))["replay"]["results"]
    assert last["episodes"] == [{"episode": 1, "identical": True}] and verify(where) == []
    from factory.export import export

    export(url, "hf", tmp_path / "hf")
    assert f"*Exported as hf from `{where}`" in (tmp_path / "hf" / CARD).read_text()
    assert (tmp_path / "hf" / PREVIEW).read_bytes() == where.read_bytes(PREVIEW)
    if scheme == "memory":
        where.fs.rm(where.fs_root, recursive=True)


def test_replay_of_a_dataset_it_cannot_write_is_verified_not_recorded(pushes, capsys, monkeypatch):
    import factory.certify.documents

    def read_only(where, replay):
        raise PermissionError(13, "Permission denied", f"{where}/{VALIDITY}")

    monkeypatch.setattr(factory.certify.documents, "record_replay", read_only)
    assert main(["verify", str(pushes), "--replay-episodes", "0"]) == 0
    out = capsys.readouterr().out
    assert "replay episode 0: identical" in out and "the replay is not recorded: [Errno 13] Permission denied" in out
    assert "results" not in json.loads((pushes / VALIDITY).read_text())["replay"]

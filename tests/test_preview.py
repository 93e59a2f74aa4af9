"""`factory preview` on small hand-made datasets of each kind (no engine), written by the real writers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from factory import preview
from factory.cli import main
from factory.contract.rollout import STATE_PER_OBJECT, Contacts, EpisodeRecord, Layout, Rollout
from factory.contract.sampling import sample_episode
from factory.errors import FactoryError
from factory.generate.plan import plan_shards
from factory.generate.provenance import build_manifest
from factory.generate.shard import write_shard
from factory.recipe.loader import parse_recipe
from factory.storage.manifest import write_manifest

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
COLLISION = parse_recipe("""\
name: preview_collision
engine: genesis
seed: 0
episodes: 2
steps: 70
dt: 0.01
scene:
  ground: {size: [1.0, 0.8]}
  objects:
    - {name: ball, shape: {type: sphere, radius: 0.05}, pos: [-0.3, 0, 0.05]}
    - {name: target, shape: {type: box, size: [0.1, 0.1, 0.1]}, pos: [0.1, 0, 0.05]}
    - {name: blocker, shape: {type: cylinder, radius: 0.04, height: 0.15}, pos: [0, 0.3, 0.075]}
""")
T = 70  # collision episodes: more states than MAX_FRAMES, so frames are subsampled
CONTACT_STEP = 30


def _states(objects: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Objects moving along +x and turning about z: a preview of them must change frame to frame."""
    s = np.zeros((steps + 1, objects, STATE_PER_OBJECT), np.float32)
    t = np.linspace(0, 1, steps + 1)[:, None]
    s[..., 0] = -0.3 + 0.5 * t + rng.uniform(-0.05, 0.05, objects)
    s[..., 1] = rng.uniform(-0.2, 0.2, objects)
    s[..., 2] = 0.05
    s[..., 3], s[..., 6] = np.cos(t), np.sin(t)  # quaternion (w, 0, 0, z): rotation by 2t rad about z
    return s.reshape(steps + 1, -1)


def _write(root: Path, recipe, layout: Layout, steps: int, points: int = 0, labels: dict | None = None) -> Path:
    rng = np.random.default_rng(0)
    records = []
    for i in range(2):
        contacts = Contacts(np.array([CONTACT_STEP], np.int32), np.array([1], np.int16), np.array([2], np.int16),
                            np.array([[0.0, 0.0, 0.05]], np.float32), np.zeros((1, 3), np.float32),
                            np.ones((1, 3), np.float32), np.zeros(1, np.float32))
        pts = {}
        if points:
            t = np.linspace(0, 1, steps + 1)[:, None, None]
            start = rng.uniform([-0.2, -0.1, 0.05], [0.2, 0.1, 0.4], (1, points, 3))
            pos = (start + t * np.array([0.1, 0.0, -0.2]) * start[..., 2:]).astype(np.float32)
            pts = {layout.points[0]: pos, layout.points[1]: np.gradient(pos, axis=0).astype(np.float32)}
        records.append(EpisodeRecord(
            Rollout(i, _states(len(layout.objects), steps, rng), np.zeros((steps, layout.action_size), np.float32),
                    contacts if not points else Contacts.empty(), pts, np.arange(points) if points else None),
            sample_episode(recipe, i).params, {}, labels or {}))
    entries = [write_shard(root, plan_shards(2, 8)[0], records, layout, ["parquet"])]
    write_manifest(root, build_manifest(recipe, {"name": "none", "version": "0", "backend": "cpu"},
                                        layout, entries, 2, None))
    return root


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    new = tmp_path_factory.mktemp
    velocity = ("velocity.x", "velocity.y", "velocity.z")
    return {
        "collision": _write(new("collision"), COLLISION,
                            Layout(("ball", "target", "blocker"), ("ground", "ball", "target", "blocker"), 0.01),
                            T, labels={"touched__ball__target": True, "came_to_rest": False}),
        "fluid": _write(new("fluid"), parse_recipe((RECIPES / "fluid/dam_break.yaml").read_text()),
                        Layout(("gate", "pillar"), ("gate", "pillar"), 0.02, ("particle_pos", "particle_vel"), 200,
                               tuple(f"gate.{v}" for v in velocity)),
                        12, 200, {"settled": True, "in_target_fraction": 0.25}),
        "cloth": _write(new("cloth"), parse_recipe((RECIPES / "cloth/drape.yaml").read_text()),
                        Layout(("ball",), ("ground", "ball"), 0.02, ("vertex_pos", "vertex_vel"), 300,
                               tuple(f"ball.{v}" for v in velocity)),
                        12, 300, {"slid_off": False, "covered_fraction": 0.5}),
    }


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        assert im.format == "GIF"
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB"), np.int16))
        return out


@pytest.mark.parametrize("kind", ["collision", "fluid", "cloth"])
def test_preview_writes_a_moving_gif(datasets, kind, capsys):
    root = datasets[kind]
    assert main(["preview", str(root), "--episode", "1"]) == 0
    out = root / "previews" / "episode_1.gif"
    assert capsys.readouterr().out.strip() == str(out)
    frames = _frames(out)
    assert len(frames) == (preview.MAX_FRAMES if kind == "collision" else 13)
    assert frames[0].shape == (preview.FIGSIZE[1] * preview.DPI, preview.FIGSIZE[0] * preview.DPI, 3)
    for f in frames:  # not blank: dark axes and text, and coloured bodies or points, on white
        assert (f.min(-1) < 200).mean() > 0.02 and (np.ptp(f, -1) > 60).mean() > 0.002
    moved = np.abs(frames[-1] - frames[0]).max(-1) > 40
    assert moved.mean() > 0.002, "the last frame should differ from the first: bodies or points move"


def test_contacts_are_marked_on_their_frame(datasets, tmp_path):
    out = preview.render_preview(datasets["collision"], 0, tmp_path / "c.gif")
    steps = preview._frames(T + 1)
    frames = _frames(out)

    def red(frame: np.ndarray) -> int:
        return int(((frame[..., 0] > 200) & (frame[..., 1] < 60) & (frame[..., 2] < 60)).sum())

    with_contact = int(np.searchsorted(steps, CONTACT_STEP))  # the first frame at or after the contact
    assert red(frames[with_contact]) > 5 and red(frames[0]) == 0 and red(frames[-1]) == 0


def test_unknown_episode_is_a_clear_error(datasets, capsys):
    assert main(["preview", str(datasets["collision"]), "--episode", "7"]) == 1
    assert "episode 7 is not in" in capsys.readouterr().err


def test_mp4_when_ffmpeg_is_found(datasets, tmp_path):
    try:
        preview._ffmpeg()
    except FactoryError as exc:
        pytest.skip(f"no ffmpeg here: {exc}")
    assert main(["preview", str(datasets["cloth"]), "--episode", "0", "--out", str(tmp_path / "c.mp4")]) == 0
    data = (tmp_path / "c.mp4").read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 1000


def test_mp4_without_ffmpeg_says_what_to_install(datasets, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails
    monkeypatch.setattr(preview.shutil, "which", lambda _: None)
    with pytest.raises(FactoryError, match=r"needs ffmpeg.*imageio-ffmpeg"):
        preview.render_preview(datasets["cloth"], 0, tmp_path / "c.mp4")
    assert not (tmp_path / "c.mp4").exists()


def test_outlines_follow_size_and_orientation():
    box = preview._silhouette_points({"type": "box", "size": [0.4, 0.2, 0.1]})
    turned = box @ preview._rotation(np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])).T  # 90° about z
    assert np.ptp(preview._hull(box[:, :2]), 0) == pytest.approx([0.4, 0.2])
    assert np.ptp(preview._hull(turned[:, :2]), 0) == pytest.approx([0.2, 0.4])
    cylinder = preview._silhouette_points({"type": "cylinder", "radius": 0.1, "height": 0.5})
    assert np.ptp(preview._hull(cylinder[:, [0, 2]]), 0) == pytest.approx([0.2, 0.5])


def test_importing_preview_leaves_matplotlib_unloaded():
    code = "import sys, factory, factory.preview; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

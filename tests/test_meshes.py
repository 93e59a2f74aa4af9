"""Mesh shapes: recipe validation and located errors, mass properties against analytic bodies, the
convex-decomposition cache, a MuJoCo rest pose the geometry predicts, and Genesis against MuJoCo."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import coacd
import numpy as np
import pytest
import trimesh
from helpers import shipped

from factory import checks, open_dataset
from factory.checks import quat_to_matrix
from factory.contract.rollout import Layout
from factory.contract.sampling import sample_episode, scene_draws
from factory.errors import EngineUnsupported, MeshError, RecipeError
from factory.labels.pose import pose_labels, up_cosine
from factory.meshes import Decomposition, mesh_asset, resolve
from factory.meshes import asset as asset_module
from factory.meshes import convex as convex_module
from factory.meshes.generated import mug_asset
from factory.recipe.loader import load_recipe, parse_recipe
from factory.recipe.scene_fields import pin_scene

ROOT = Path(__file__).resolve().parent.parent


def recipe_text(shape: str, weight: str = "density: 1000", engine: str = "mujoco", z: float = 0.2,
                extra: str = "") -> str:
    return f"""\
name: meshes
engine: {engine}
seed: 3
episodes: 4
steps: 300
dt: 0.004
n_envs: 2
scene:
  objects:
    - name: thing
      shape: {shape}
      {weight}
      pos: [0, 0, {z}]
{extra}"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test decomposes into its own cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def cube(tmp_path) -> Path:
    """A 0.1 m cube as an OBJ file, its centre 0.3 m off the origin (pos must mean the centre of mass)."""
    path = tmp_path / "cube.obj"
    trimesh.creation.box([0.1, 0.1, 0.1], trimesh.transformations.translation_matrix([0.3, 0, 0])).export(path)
    return path


def problems(text: str, base: Path | None = None) -> list[str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "r.yaml", base)
    return info.value.problems


# ---------------------------------------------------------------- schema and errors
def test_a_mesh_needs_one_of_density_or_mass(cube):
    shape = f"{{type: mesh, file: {cube}}}"
    assert problems(recipe_text(shape, weight="friction: 0.5")) == [
        "line 10: scene.objects.0.density: give a mesh either `density` (kg/m³, weighed by its volume) or `mass` (kg)"]
    assert "either `density`" in problems(recipe_text(shape, weight="mass: 1\n      density: 10"))[0]
    box = recipe_text("{type: box, size: [0.1, 0.1, 0.1]}", weight="density: 1000")
    assert "only a mesh is weighed by its volume" in problems(box)[0]


def test_bad_shape_fields_are_located(cube, tmp_path):
    assert problems(recipe_text(f"{{type: mesh, file: {cube}, scale: 0}}")) == [
        "line 11: scene.objects.0.shape.scale: must be > 0.0, but can take 0.0"]
    assert "'hull' is not allowed" in problems(recipe_text(f"{{type: mesh, file: {cube}, collision: hull}}"))[0]
    both = problems(recipe_text(f"{{type: mesh_set, dir: {tmp_path}, files: [{cube}]}}"))
    assert both == ["line 11: scene.objects.0.shape.dir: give exactly one of 'dir' (a folder) or 'files' (a list)"]


def test_bad_files_name_the_file_and_line(tmp_path):
    (tmp_path / "garbage.stl").write_bytes(b"\x00\x01 not a mesh at all" * 10)
    (tmp_path / "empty.obj").write_text("")
    (tmp_path / "no_meshes").mkdir()
    for shape, expect in [("{type: mesh, file: missing.obj}", "missing.obj: no such file"),
                          ("{type: mesh, file: garbage.stl}", "garbage.stl: "),
                          ("{type: mesh, file: empty.obj}", "empty.obj: "),
                          ("{type: mesh_set, dir: no_meshes}", "no mesh files in the folder"),
                          ("{type: mesh, file: 'nosuchpackage:meshes/a.obj'}", "no package 'nosuchpackage'")]:
        found = problems(recipe_text(shape), base=tmp_path)
        assert len(found) == 1 and found[0].startswith("line 11: scene.objects.0.shape."), found
        assert expect in found[0], found
    listed = problems(recipe_text("{type: mesh_set, files: ['nosuchpackage:a.obj']}"), base=tmp_path)
    assert listed[0].startswith("line 11: scene.objects.0.shape.files: "), listed  # the field the user wrote


def test_a_failed_decomposition_names_the_file_and_line(cube, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("no manifold")

    monkeypatch.setattr(coacd, "run_coacd", fail)
    [problem] = problems(recipe_text(f"{{type: mesh, file: {cube}, collision: decompose}}"))
    assert problem == f"line 11: scene.objects.0.shape.file: {cube}: the convex decomposition failed: no manifold"


def test_an_open_mesh_is_refused_for_density_but_takes_a_mass(tmp_path):
    open_box = trimesh.creation.box([0.1, 0.1, 0.1])
    open_box.update_faces(np.arange(len(open_box.faces)) > 1)  # one face of the cube missing
    open_box.export(tmp_path / "open.obj")
    shape = "{type: mesh, file: open.obj}"
    [problem] = problems(recipe_text(shape), base=tmp_path)
    assert problem.startswith("line 12: scene.objects.0.density: ") and "open.obj is not watertight" in problem
    assert "give the object's `mass`" in problem
    recipe = parse_recipe(recipe_text(shape, weight="mass: 0.5"), "r.yaml", tmp_path)
    assert sample_episode(recipe, 0).params["thing.mass"] == 0.5


def test_cli_exits_2_on_a_missing_mesh(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(recipe_text("{type: mesh, file: gone.obj}"))
    done = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "line 11: scene.objects.0.shape.file:" in done.stderr and "gone.obj: no such file" in done.stderr


def test_relative_paths_are_against_the_recipe_folder(cube, tmp_path, monkeypatch):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "r.yaml").write_text(recipe_text("{type: mesh, file: ../cube.obj}"))
    monkeypatch.chdir(ROOT)
    recipe = load_recipe(folder / "r.yaml")
    assert recipe.scene.objects[0].shape.file == str(cube)  # absolute in the resolved recipe and manifest


def test_package_references_resolve_without_importing():
    path = resolve("genesis:assets/meshes/sphere.obj")
    assert path.is_file() and path.parts[-4:] == ("genesis", "assets", "meshes", "sphere.obj")


# ---------------------------------------------------------------- mass properties
def test_cube_mass_and_inertia_from_density(cube):
    recipe = parse_recipe(recipe_text(f"{{type: mesh, file: {cube}}}"), "r.yaml")
    params = sample_episode(recipe, 0).params
    assert params["thing.mass"] == pytest.approx(1.0, rel=1e-6)  # 0.001 m³ × 1000 kg/m³
    asset = mesh_asset(cube, 1.0, None)
    assert asset.inertia == pytest.approx(np.eye(3) * (0.1 ** 2 + 0.1 ** 2) / 12, abs=1e-9)
    assert asset.lowest() == pytest.approx(0.05)  # centred on its centre of mass, not on the file's origin
    scaled = mesh_asset(cube, 2.0, None)
    assert scaled.volume == pytest.approx(8 * asset.volume) and scaled.lowest() == pytest.approx(0.1)


@pytest.mark.parametrize("suffix", ["stl", "glb", "gltf"])
def test_every_format_gives_the_same_body(cube, suffix):
    """STL, GLB and glTF (a scene of meshes, joined) weigh and extend as the OBJ does
    (to float32, the precision they store)."""
    other = cube.with_suffix(f".{suffix}")
    trimesh.load(cube, force="mesh").export(other)
    a, b = mesh_asset(cube, 1.0, None), mesh_asset(other, 1.0, None)
    assert b.volume == pytest.approx(a.volume, rel=1e-6) and b.lowest() == pytest.approx(a.lowest(), abs=1e-7)


def write_glb(path: Path, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """A one-mesh GLB written by hand from the glTF 2.0 layout (positions as stored: +Y is up)."""
    import struct

    positions, indices = vertices.astype("<f4").tobytes(), triangles.astype("<u4").tobytes()
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(vertices), "type": "VEC3",
                           "min": vertices.min(0).tolist(), "max": vertices.max(0).tolist()},
                          {"bufferView": 1, "componentType": 5125, "count": triangles.size, "type": "SCALAR"}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
                            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices)}],
            "buffers": [{"byteLength": len(positions) + len(indices)}]}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    binary = positions + indices
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks)


def test_a_glb_is_turned_from_y_up_to_z_up(tmp_path):
    """A pyramid standing on the file's x-z plane with its apex up (+Y) and leaning to its front (+Z) stands
    on the factory's x-y plane, apex up (+Z), leaning to -Y: glTF's +Y up is the factory's +Z up."""
    s, h, lean = 0.05, 0.3, 0.04
    vertices = np.array([(-s, 0, -s), (s, 0, -s), (s, 0, s), (-s, 0, s), (0, h, lean)])
    triangles = np.array([(0, 1, 2), (0, 2, 3), (0, 4, 1), (1, 4, 2), (2, 4, 3), (3, 4, 0)])
    write_glb(tmp_path / "pyramid.glb", vertices, triangles)
    asset = mesh_asset(tmp_path / "pyramid.glb", 1.0, None)
    points = np.concatenate([v for v, _ in asset.parts])
    apex = points[points[:, 2].argmax()]  # a pyramid's centre of mass is a quarter up from its base's centre
    assert apex == pytest.approx([0.0, -0.75 * lean, 0.75 * h], abs=1e-6)
    assert asset.lowest() == pytest.approx(h / 4, abs=1e-6)
    assert np.ptp(points, axis=0) == pytest.approx([2 * s, 2 * s, h], abs=1e-6)


def test_the_checks_weigh_and_reach_a_mesh_cube_as_the_box_it_is(cube):
    """The data checks and the model take a mesh body from its parts: a cube mesh has the box's inertia,
    reach, depth below its centre at any turn and inscribed ball; a mug's centre, in its cavity, has none."""
    recipe = parse_recipe(recipe_text(f"{{type: mesh, file: {cube}, scale: 2}}"), "r.yaml")
    params = sample_episode(recipe, 0).params
    mesh = checks.bodies_for(recipe.model_dump(mode="json"), params)["thing"]
    box = checks.make_body("box", params["thing.mass"], (0.2, 0.2, 0.2))
    assert params["thing.mass"] == pytest.approx(8.0, rel=1e-6)
    assert mesh.inertia == pytest.approx(box.inertia, rel=1e-6, abs=1e-9)
    assert mesh.half == pytest.approx(box.half) and mesh.outer == pytest.approx(box.outer)
    assert mesh.inner == pytest.approx(box.inner)
    turns = quat_to_matrix(np.random.default_rng(0).normal(size=(20, 4)))
    assert mesh.lowest(turns) == pytest.approx(box.lowest(turns))
    mug = checks.bodies_for(shipped("collision/mugs_tumble.yaml").model_dump(mode="json"),
                            {"mug.mass": 0.2, "mug.radius": 0.04, "mug.height": 0.1})["mug"]
    assert mug.inner == 0.0 and mug.lowest(np.eye(3)) == pytest.approx(mug_asset(0.04, 0.1, 0.005, True).lowest())


def test_sphere_volume_and_inertia(tmp_path):
    r = 0.05
    trimesh.creation.icosphere(subdivisions=5, radius=r).export(tmp_path / "ball.stl")
    asset = mesh_asset(tmp_path / "ball.stl", 1.0, None)
    assert asset.watertight
    assert asset.volume == pytest.approx(4 / 3 * np.pi * r ** 3, rel=2e-3)
    assert np.diag(asset.inertia) == pytest.approx([0.4 * r ** 2] * 3, rel=3e-3)
    assert np.abs(asset.inertia - np.diag(np.diag(asset.inertia))).max() < 1e-9


def test_a_scale_distribution_is_a_scene_field(cube):
    text = recipe_text(f"{{type: mesh, file: {cube}, scale: {{type: uniform, low: 0.5, high: 2}}}}",
                       extra="scene_variants: 3\n")
    recipe = parse_recipe(text, "r.yaml")
    for i in range(3):
        params = sample_episode(recipe, i).params
        assert params["thing.mass"] == pytest.approx(params["thing.scale"] ** 3, rel=1e-6)


def test_a_generated_mug_weighs_what_its_walls_hold():
    r, h, t = 0.04, 0.1, 0.005
    text = recipe_text(f"{{type: mug, radius: {r}, height: {h}, thickness: {t}, handle: false}}")
    params = sample_episode(parse_recipe(text, "r.yaml"), 0).params
    volume = np.pi * r ** 2 * t + np.pi * (r ** 2 - (r - t) ** 2) * (h - t)  # floor + wall, round
    assert params["thing.mass"] == pytest.approx(1000 * volume, rel=0.02)
    assert params["thing.radius"] == r and params["thing.thickness"] == t  # recorded with the episode
    assert problems(recipe_text("{type: mug, radius: 0.04, height: 0.1, thickness: 0.05}")) == [
        "line 11: scene.objects.0.shape.thickness: can reach 0.05 m, not less than the smallest radius or "
        "height (0.04 m): the mug would have no inside"]


def _round_volume(profile: list[tuple[float, float]], t: float) -> float:
    """Volume of a round floor t thick under a wall t thick (horizontally) through (height, outer radius) points."""
    def cone(a: float, b: float, h: float) -> float:  # a round frustum of radii a and b, h high
        return np.pi * h / 3 * (a * a + a * b + b * b)

    walls = sum(cone(r0, r1, z1 - z0) - cone(r0 - t, r1 - t, z1 - z0)
                for (z0, r0), (z1, r1) in itertools.pairwise(profile))
    return np.pi * profile[0][1] ** 2 * t + walls


@pytest.mark.parametrize("shape, volume", [
    ("{type: bowl, radius: 0.08, bottom_radius: 0.04, height: 0.05, thickness: 0.004}",
     _round_volume([(0.004, 0.04), (0.05, 0.08)], 0.004)),
    ("{type: bowl, radius: 0.12, bottom_radius: 0.09, height: 0.015, thickness: 0.004}",  # a plate
     _round_volume([(0.004, 0.09), (0.015, 0.12)], 0.004)),
    ("{type: bottle, radius: 0.035, height: 0.2, neck_radius: 0.012, neck_height: 0.05, thickness: 0.003}",
     _round_volume([(0.003, 0.035), (0.127, 0.035), (0.15, 0.012), (0.2, 0.012)], 0.003)),
    ("{type: tray, size: [0.3, 0.2, 0.03], thickness: 0.005}",
     0.3 * 0.2 * 0.03 - 0.29 * 0.19 * 0.025),
], ids=["bowl", "plate", "bottle", "tray"])
def test_generated_containers_weigh_what_their_walls_hold_and_rest_on_their_floor(shape, volume):
    from engines.mujoco import MuJoCoEngine
    from factory.recipe.meshes import shape_asset

    recipe = parse_recipe(recipe_text(shape, z=0.1), "r.yaml")
    params = sample_episode(recipe, 0).params
    assert params["thing.mass"] == pytest.approx(1000 * volume, rel=0.02)
    engine = MuJoCoEngine(recipe)
    [rollout] = engine.run_batch([sample_episode(recipe, 0)])
    engine.close()
    assert rollout.states[-1, 2] == pytest.approx(shape_asset(recipe.scene.objects[0].shape).lowest(), abs=2e-3)
    assert up_cosine(rollout.states[-1, 3:7]) > 0.999


# ---------------------------------------------------------------- convex parts
def test_decomposition_is_cached_and_reused(tmp_path, monkeypatch):
    ring = trimesh.creation.annulus(r_min=0.03, r_max=0.05, height=0.04, sections=8)
    ring.export(tmp_path / "ring.obj")
    settings = Decomposition(threshold=0.1, resolution=300, preprocess="off")
    first = mesh_asset(tmp_path / "ring.obj", 1.0, settings)
    assert len(first.parts) > 1
    [cached] = list((tmp_path / "cache" / "physics-data-factory" / "convex").iterdir())
    before = cached.read_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("decomposed again instead of reading the cache")

    monkeypatch.setattr(coacd, "run_coacd", refuse)
    asset_module._unscaled.cache_clear()  # a new process: only the disk cache is left
    again = mesh_asset(tmp_path / "ring.obj", 1.0, settings)
    assert cached.read_bytes() == before
    assert len(again.parts) == len(first.parts)
    for (v1, f1), (v2, f2) in zip(first.parts, again.parts, strict=True):
        assert np.array_equal(v1, v2) and np.array_equal(f1, f2)
    # the settings are part of the key: others decompose again
    with pytest.raises(MeshError, match="decomposed again"):
        convex_module.convex_parts(ring.vertices, ring.faces, first.sha256, Decomposition(threshold=0.2))


# ---------------------------------------------------------------- labels
def test_rest_pose_from_the_body_up_axis():
    half = np.sqrt(0.5)
    last = {"upright": [1, 0, 0, 0], "tilted 20°": [np.cos(np.radians(10)), np.sin(np.radians(10)), 0, 0],
            "on its side": [half, half, 0, 0], "upside down": [0, 0, 1, 0]}
    states = np.zeros((len(last), 2, 13), np.float32)
    states[:, 0, 3] = 1.0  # every episode starts upright
    states[:, 1, 3:7] = list(last.values())
    labels = pose_labels(states, Layout(("mug",), ("ground", "mug"), 0.01), ("mug",))
    assert labels["rest_pose__mug"] == [1, 1, 0, -1]
    assert labels["toppled__mug"] == [False, False, True, True]
    assert labels["up_cos__mug"] == pytest.approx([1, np.cos(np.radians(20)), 0, -1], abs=1e-6)


# ---------------------------------------------------------------- engines
def test_mujoco_drops_a_mesh_cube_to_rest_at_its_half_height(cube):
    from engines.mujoco import MuJoCoEngine

    text = recipe_text(f"{{type: mesh, file: {cube}}}", extra="""\
      euler: [0, 0, {type: uniform, low: 0, high: 90}]
      vel: [{type: uniform, low: -0.5, high: 0.5}, 0, 0]
""")
    recipe = parse_recipe(text, "r.yaml")
    engine = MuJoCoEngine(recipe)
    rollouts = engine.run_batch([sample_episode(recipe, i) for i in range(2)])
    engine.close()
    for r in rollouts:
        assert r.states[-1, 2] == pytest.approx(0.05, abs=2e-3)
        assert np.abs(r.states[-1, 7:13]).max() < 0.02  # at rest
        last = r.contacts.step == r.contacts.step.max()
        assert -r.contacts.force_on_a[last, 2].sum() == pytest.approx(9.81, rel=0.02)  # 1 kg on the ground


def test_mujoco_mesh_set_records_the_drawn_file(tmp_path):
    from engines.mujoco import MuJoCoEngine
    from factory.recipe.meshes import mesh_table

    for k, r in enumerate([0.03, 0.05]):
        trimesh.creation.icosphere(subdivisions=3, radius=r).export(tmp_path / f"ball{k}.obj")
    text = recipe_text("{type: mesh_set, dir: .}", z=0.3, extra="scene_variants: 2\n")
    recipe = parse_recipe(text, "r.yaml", tmp_path)
    table = mesh_table(recipe.scene.objects)["thing"]
    assert [Path(row["file"]).name for row in table] == ["ball0.obj", "ball1.obj"]
    for variant in range(2):
        params = sample_episode(recipe, variant).params
        pinned = pin_scene(recipe, scene_draws(recipe, variant))
        engine = MuJoCoEngine(pinned)
        [rollout] = engine.run_batch([sample_episode(pinned, variant)])
        engine.close()
        radius = [0.03, 0.05][int(params["thing.mesh"])]
        assert params["thing.mass"] == pytest.approx(1000 * 4 / 3 * np.pi * radius ** 3, rel=0.03)
        assert rollout.states[-1, 2] == pytest.approx(radius, abs=2e-3)


def test_mujoco_rests_a_mug_dropped_upside_down_on_its_rim():
    from engines.mujoco import MuJoCoEngine
    from factory.recipe.meshes import shape_asset

    shape = "{type: mug, radius: {type: uniform, low: 0.03, high: 0.05}, height: 0.1, thickness: 0.005}"
    recipe = parse_recipe(recipe_text(shape, extra="      euler: [180, 0, 0]\nscene_variants: 2\n"), "r.yaml")
    flipped = np.diag([1.0, -1.0, -1.0])
    for variant in range(2):
        pinned = pin_scene(recipe, scene_draws(recipe, variant))
        engine = MuJoCoEngine(pinned)
        [rollout] = engine.run_batch([sample_episode(pinned, variant)])
        engine.close()
        rim = shape_asset(pinned.scene.objects[0].shape).lowest(flipped)  # the rim's depth below the centre of mass
        assert rollout.states[-1, 2] == pytest.approx(rim, abs=2e-3)
        assert pose_labels(rollout.states[None], engine.layout, ("thing",))["rest_pose__thing"] == [-1]


def test_unity_refuses_meshes(cube):
    from engines.unity.scene import check_representable, make_layout

    recipe = parse_recipe(recipe_text(f"{{type: mesh, file: {cube}}}", engine="{type: unity, behavior_name: f}"),
                          "r.yaml")
    with pytest.raises(EngineUnsupported, match=r"scene.objects.0.shape: a 'mesh' needs its mesh in the scene"):
        check_representable(recipe, make_layout(recipe))


@pytest.mark.genesis
@pytest.mark.parametrize("shape, euler", [
    ("{type: mesh, file: 'genesis:assets/meshes/bunny.obj', scale: 0.1}", "[0, 0, 0]"),
    ("{type: mug, radius: 0.04, height: 0.1, thickness: 0.005}", "[180, 0, 0]"),  # 41 parts, on its rim
], ids=["bunny", "mug upside down"])
def test_genesis_rests_a_mesh_where_mujoco_does(shape, euler):
    from engines.genesis import GenesisEngine
    from engines.mujoco import MuJoCoEngine

    finals = {}
    for engine_type, engine_class in (("mujoco", MuJoCoEngine), ("genesis", GenesisEngine)):
        text = recipe_text(shape, weight="density: 500", engine=engine_type, extra=f"      euler: {euler}\n")
        recipe = parse_recipe(text, "r.yaml")
        engine = engine_class(recipe)
        rollouts = engine.run_batch([sample_episode(recipe, i) for i in range(2)])
        engine.close()
        finals[engine_type] = np.stack([r.states[-1, :7] for r in rollouts])
        assert np.abs(np.stack([r.states[-1, 7:10] for r in rollouts])).max() < 0.05
    assert finals["genesis"][:, 2] == pytest.approx(finals["mujoco"][:, 2], abs=3e-3)
    up = {name: quat_to_matrix(final[:, 3:7])[:, :, 2] for name, final in finals.items()}  # the body's z axis
    assert np.abs(up["genesis"] - up["mujoco"]).max() < 0.05  # resting on the same side (the yaw may differ)


def test_mujoco_rests_a_decomposed_ring_on_its_face(tmp_path):
    """A concave body as several convex parts: each part collides on its own, the ring lies flat."""
    from engines.mujoco import MuJoCoEngine

    trimesh.creation.annulus(r_min=0.03, r_max=0.05, height=0.04, sections=8).export(tmp_path / "ring.obj")
    shape = "{type: mesh, file: ring.obj, collision: decompose, decompose: {threshold: 0.1, resolution: 300}}"
    recipe = parse_recipe(recipe_text(shape, z=0.1), "r.yaml", tmp_path)
    engine = MuJoCoEngine(recipe)
    assert engine.layout.bodies == ("ground", "thing")
    [rollout] = engine.run_batch([sample_episode(recipe, 0)])
    engine.close()
    mass = sample_episode(recipe, 0).params["thing.mass"]
    assert rollout.states[-1, 2] == pytest.approx(0.02, abs=2e-3)
    last = rollout.contacts.step == rollout.contacts.step.max()
    assert set(rollout.contacts.body_b[last]) == {1}
    assert -rollout.contacts.force_on_a[last, 2].sum() == pytest.approx(mass * 9.81, rel=0.03)


def test_mesh_set_datasets_do_not_depend_on_the_batch_size(tmp_path):
    from factory.generate.runner import run

    for k, r in enumerate([0.03, 0.04, 0.05]):
        trimesh.creation.icosphere(subdivisions=2, radius=r).export(tmp_path / f"ball{k}.obj")
    files = {}
    for n_envs in (1, 4):
        text = recipe_text("{type: mesh_set, dir: .}", extra="scene_variants: 3\n")
        text = text.replace("n_envs: 2", f"n_envs: {n_envs}")
        manifest = run(parse_recipe(text, "r.yaml", tmp_path), tmp_path / f"out{n_envs}")
        files[n_envs] = {f["path"]: f["sha256"] for s in manifest["shards"] for f in s["files"]}
        assert [row["sha256"] for row in manifest["meshes"]["thing"]] == [
            hashlib.sha256((tmp_path / f"ball{k}.obj").read_bytes()).hexdigest() for k in range(3)]
        assert "param__thing__mesh" in manifest["episode_params"]
        labels = open_dataset(tmp_path / f"out{n_envs}").episodes().to_pandas()
        assert (labels["rest_pose__thing"] == 1).all() and not labels["toppled__thing"].any()  # balls: never turned
    assert files[1] == files[4]
    # the certificate weighs mesh bodies by their parts' inertia: energy and momentum are measured
    cert = json.loads((tmp_path / "out1" / "validity.json").read_text())
    figures = {f["name"]: f for f in cert["figures"]}
    assert "energy and momentum" not in cert["not_measured"] and figures["energy gained without an action"]["passed"]


def test_mujoco_conforms_with_meshes():
    """The engine checker over the shipped mesh recipe: a mesh set, an open mesh weighed by its mass, a push."""
    from factory.generate.conformance import check_engine

    recipe = shipped("collision/mesh_drop.yaml", engine={"type": "mujoco"}, steps=60, n_envs=2,
                     actions=[{"type": "push", "object": "duck", "at": [5], "impulse": [-0.1, 0, 0]}],
                     outputs={"formats": ["parquet"], "record_every": 5})
    batch = check_engine("mujoco", pin_scene(recipe, scene_draws(recipe, 0)), alone=2)  # each alone as well
    assert any(len(r.contacts) for r in batch)


def test_mujoco_a_ball_comes_to_rest_in_a_fixed_tray():
    """A fixed mesh body (posed per episode) against a primitive: the ball lands on the tray's floor."""
    from engines.mujoco import MuJoCoEngine
    from factory.recipe.meshes import shape_asset

    tray = "{type: tray, size: [0.3, 0.2, 0.04], thickness: 0.01}"  # thicker than a 4 ms step of the fall
    sits = shape_asset(parse_recipe(recipe_text(tray), "r.yaml").scene.objects[0].shape).lowest()
    text = recipe_text(tray, weight="mass: 1", z=sits, extra="""\
      fixed: true
    - name: ball
      shape: {type: sphere, radius: 0.02}
      pos: [{type: uniform, low: -0.1, high: 0.1}, 0, 0.1]
""")
    recipe = parse_recipe(text, "r.yaml")
    engine = MuJoCoEngine(recipe)
    rollouts = engine.run_batch([sample_episode(recipe, i) for i in range(2)])
    engine.close()
    for r in rollouts:
        ball = engine.layout.field(r.states[-1], "ball", "pos")
        assert ball[2] == pytest.approx(0.01 + 0.02, abs=2e-3)  # on the floor's top, inside the walls
        assert set(zip(r.contacts.body_a.tolist(), r.contacts.body_b.tolist(), strict=True)) == {(1, 2)}  # no ground

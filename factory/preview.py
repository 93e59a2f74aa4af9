"""`factory preview`: one episode drawn frame by frame, so a user can see what the numbers in a
dataset mean (bodies, contacts, liquid particles, cloth vertices, a robot's links and tool path) before
training on it. A dataset with cameras is shown through them (every camera and stream side by side);
others, or `schematic`, as top and side views drawn from the states.

matplotlib is imported inside functions: `import factory` must stay light.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factory.certify.card import CARD, DOCUMENTS, PREVIEW
from factory.certify.documents import stored_certificate, why, write_documents
from factory.contract.rollout import Layout
from factory.errors import FactoryError
from factory.labels.robot import push_goal
from factory.names import param_name
from factory.recipe.meshes import MESH_TYPES, shape_asset
from factory.recipe.robot_chain import euler_matrix, link_frames, read_chain
from factory.recipe.robots import PushPolicy, ReachPolicy, Robot
from factory.recipe.scene_fields import episode_scene
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset, Episode
from factory.storage.location import Location
from factory.storage.manifest import read_manifest, write_manifest
from factory.storage.opener import open_dataset

MAX_FRAMES = 60
CARD_FRAMES, CARD_FPS = 12, 6  # the card's preview: a 2-second loop, a second or two to draw
FIGSIZE = (6.0, 3.0)
DPI = 80
VIEWS = (("top", 0, 1), ("side", 0, 2))  # title, horizontal axis, vertical axis (0 x, 1 y, 2 z)
AXIS_NAMES = "xyz"
# contacts between bodies in red; with the ground in small grey, since every resting body has them
CONTACT_STYLES = ({"marker": "x", "ls": "none", "color": "0.45", "ms": 3, "mew": 0.8, "zorder": 4},
                  {"marker": "x", "ls": "none", "color": "red", "ms": 5, "mew": 1.2, "zorder": 5})


def render_preview(dataset: str | Path, episode: int, out: str | Path | None = None,
                   fmt: str | None = None, fps: int = 15, schematic: bool = False) -> Path:
    """Write episode `episode` of `dataset` as an animation; the format follows `fmt`, else `out`'s suffix, else gif."""
    if fmt is None:
        fmt = Path(out).suffix.lstrip(".") if out and Path(out).suffix in (".gif", ".mp4") else "gif"
    if fmt not in ("gif", "mp4"):
        raise FactoryError(f"unknown preview format {fmt!r}: use gif or mp4")
    ffmpeg = _ffmpeg() if fmt == "mp4" else None  # before any drawing: fail fast
    ds = open_dataset(dataset)
    ep = ds.episode(episode)
    out = Path(out) if out else ds.root / "previews" / f"episode_{episode}.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = preview_frames(ds, ep, schematic)
    if ffmpeg is None:
        out.write_bytes(_gif(frames, fps))
    else:
        height, width = frames[0].shape[:2]
        done = subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                               "-pix_fmt", "yuv420p", str(out)], input=np.stack(frames).tobytes(), capture_output=True)
        if done.returncode:
            raise FactoryError(f"{ffmpeg} could not write {out}: {done.stderr.decode(errors='replace').strip()}")
    return out


def card_preview(where: Location) -> str:
    """Draw the dataset's first stored episode as `preview.gif` beside its card, list it in the manifest
    and render the card again with it; what was done, in one line. Where it cannot be drawn (no
    matplotlib, no episode) the card stays as it was and the line says why."""
    manifest = read_manifest(where)
    if not where.is_file(CARD):
        return f"no preview: {where} has no card to put it in (`factory card` writes one)"
    try:
        ds = Dataset(where, manifest=manifest)
        stored = sorted(int(e) for e in ds.column("episodes", "episode")) if ds.files else []
        if not stored:
            return "no preview: the dataset holds no episode"
        data = _gif(_draw_frames(ds, ds.episode(stored[0]), CARD_FRAMES), CARD_FPS)
    except (FactoryError, ImportError, OSError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
        return f"no preview in the card: {why(exc)}"
    where.write_bytes(PREVIEW, data)
    others = [d for d in manifest.get(DOCUMENTS, []) if d["path"] != PREVIEW]
    listed = [*others, {"path": PREVIEW, "episode": stored[0]}]
    write_manifest(where, write_documents(where, manifest | {DOCUMENTS: listed}, stored_certificate(where)))
    return f"card preview: episode {stored[0]} in {where}/{PREVIEW}"


def _gif(frames: list[np.ndarray], fps: int) -> bytes:
    from PIL import Image  # a matplotlib dependency

    # fast octree: quicker than Pillow's default quantizer, no visible difference on flat plots
    images = [Image.fromarray(f).quantize(method=Image.Quantize.FASTOCTREE) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buffer.getvalue()


def preview_frames(ds: Dataset, ep: Episode, schematic: bool = False) -> list[np.ndarray]:
    """The animation's RGB frames (H, W, 3): through the cameras where the dataset has some."""
    return _draw_camera_frames(ds, ep) if ds.layout.cameras and not schematic else _draw_frames(ds, ep)


def _pyplot():
    """pyplot on the Agg backend: previews are rendered where there is no display."""
    try:
        import matplotlib
    except ImportError as exc:
        raise FactoryError("factory preview needs matplotlib: pip install 'physics-data-factory[preview]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ffmpeg() -> str:
    """The ffmpeg binary imageio-ffmpeg ships, else one on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
    if found is None:
        raise FactoryError("--format mp4 needs ffmpeg: pip install imageio-ffmpeg (or put ffmpeg on PATH), "
                           "or use --format gif")
    return found


def _frames(n_states: int, most: int = MAX_FRAMES) -> np.ndarray:
    """Recorded-state indices to draw: all of them, or `most` evenly spread (first and last kept)."""
    return np.unique(np.linspace(0, n_states - 1, min(n_states, most)).round().astype(int))


def _rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z), the order states store."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _outline_points(shape) -> np.ndarray:
    """Body-frame points whose projection's convex hull is the shape's outline: a mesh's own vertices
    (of its convex parts, as the episode drew it), or a primitive's silhouette points."""
    if shape.type in MESH_TYPES:
        return np.concatenate([v for v, _ in shape_asset(shape).parts])
    return _silhouette_points(shape.model_dump(mode="json"))


def _silhouette_points(shape: dict) -> np.ndarray:
    """Body-frame points whose projection's convex hull is the shape's outline in any view."""
    ring = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    c, s, zero = np.cos(ring), np.sin(ring), np.zeros_like(ring)
    if shape["type"] in ("box", "cup"):  # a cup by its outer box, whose centre is its position
        half = (np.asarray(shape["size"], float) if shape["type"] == "box" else
                np.asarray(shape["inner"], float) + np.array([2, 2, 1]) * float(shape["wall"])) / 2
        return half * np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float)
    r = float(shape["radius"])
    if shape["type"] == "sphere":  # three great circles: each view sees one of them as the outline
        return r * np.concatenate([np.stack(p, 1) for p in ((c, s, zero), (c, zero, s), (zero, c, s))])
    h = float(shape["height"]) / 2  # cylinder, axis along body z (as Genesis builds it)
    return np.concatenate([np.stack([r * c, r * s, zero + z], 1) for z in (-h, h)])


def _hull(p: np.ndarray) -> np.ndarray:
    """Convex hull of 2-D points, counter-clockwise (Andrew's monotone chain)."""
    p = p[np.lexsort((p[:, 1], p[:, 0]))]

    def chain(points: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for q in points:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (q[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (q[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(q)
        return out[:-1]

    return np.array(chain(p) + chain(p[::-1]))


def _point_colours(ep: Episode, layout: Layout) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Per-frame points and the value that colours them: speed for a liquid, height for a cloth."""
    pos_name = next((n for n in layout.points if n.endswith("_pos")), None)
    if pos_name is None:
        return None
    pos = ep.points[pos_name]
    vel = ep.points.get(pos_name.replace("_pos", "_vel"))
    if pos_name == "particle_pos" and vel is not None:
        return pos, np.linalg.norm(vel, axis=-1), "speed (m/s)"
    return pos, pos[..., 2], "height (m)"


@dataclass(frozen=True)
class Arm:
    """A robot as a preview draws it: its links' origins per state and its tool point's path."""

    links: np.ndarray  # (T+1, L, 3)
    segments: tuple[tuple[int, int], ...]  # (parent, child) link pairs: the drawn chain
    tool: np.ndarray  # (T+1, 3)
    goal: np.ndarray | None  # (3,): where a push means to leave its object's centre, or a reach its tool

    def chain(self, f: int, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """The chain at state f in view axes (i, j), segments separated by NaN, for one line artist."""
        gap = np.full((len(self.segments), 1, 3), np.nan)
        pts = np.concatenate([self.links[f, [a for a, _ in self.segments]][:, None],
                              self.links[f, [b for _, b in self.segments]][:, None], gap], 1).reshape(-1, 3)
        return pts[:, i], pts[:, j]


def _arms(recipe: Recipe, layout: Layout, states: np.ndarray, params: dict[str, float]) -> list[Arm]:
    """Each robot's links from its recorded joint positions (forward kinematics of its file, as its engine
    placed it), its recorded tool point and its policy's goal from the episode's draws (`params` by name)."""
    arms = []
    for robot, block in zip(recipe.robots, layout.robots, strict=True):
        start, _ = layout.robot_span(block.name)
        q = {joint: states[:, start + k].astype(float) for k, joint in enumerate(block.joints)}
        chain = read_chain(robot.path())
        links, _ = link_frames(chain, q, np.asarray(robot.base.pos, float),
                               euler_matrix(np.radians(robot.base.euler), "XYZ"))
        segments = tuple((link.parent, k) for k, link in enumerate(chain) if link.parent >= 0)
        n = len(block.joints)
        arms.append(Arm(links, segments, states[:, start + 2 * n:start + 2 * n + 3].astype(float),
                        _goal(robot, params)))
    return arms


def _goal(robot: Robot, params: dict[str, float]) -> np.ndarray | None:
    """A push's goal for its object's centre (`factory.labels.robot.push_goal`, at the object's start height) or
    a reach's drawn point; None for a reach above a moving object and for random walks."""
    policy = robot.policy
    if isinstance(policy, PushPolicy):
        return np.array([*push_goal(params, robot.name, policy.object), params[f"{policy.object}.pos.z"]])
    if isinstance(policy, ReachPolicy) and policy.point is not None:
        return np.array([params[f"{robot.name}.policy.point.{axis}"] for axis in "xyz"])
    return None


def _scene_extent(scene: dict, pos: dict[str, np.ndarray], reach: dict[str, float],
                  points: np.ndarray | None, arms: list[Arm]) -> tuple[np.ndarray, np.ndarray]:
    """Axis limits that hold everything the episode ever shows, so frames do not jump."""
    corners = [pos[o] + d * reach[o] for o in pos for d in (-1, 1)]
    if points is not None:
        corners.append(points.reshape(-1, 3))
    corners += [arm.links.reshape(-1, 3) for arm in arms]
    fluid, ground = scene.get("fluid"), scene.get("ground")
    if fluid:
        corners.append(np.array([fluid["tank"]["lower"], fluid["tank"]["upper"]], float))
    if ground and ground.get("size"):
        sx, sy = ground["size"]
        corners.append(np.array([[-sx / 2, -sy / 2, ground["height"]], [sx / 2, sy / 2, ground["height"]]]))
    allp = np.concatenate(corners)
    lo, hi = allp.min(0), allp.max(0)
    pad = 0.05 * max(float((hi - lo).max()), 0.1)
    return lo - pad, hi + pad


def _fit_equal(ax, lo: np.ndarray, hi: np.ndarray) -> None:
    """Limits holding [lo, hi], widened so one metre is as long on both axes and the axes fill their box."""
    box = ax.get_position()
    width, height = box.width * FIGSIZE[0], box.height * FIGSIZE[1]
    scale = max((hi[0] - lo[0]) / width, (hi[1] - lo[1]) / height)
    mid = (lo + hi) / 2
    ax.set_xlim(mid[0] - scale * width / 2, mid[0] + scale * width / 2)
    ax.set_ylim(mid[1] - scale * height / 2, mid[1] + scale * height / 2)
    ax.set_aspect("equal", adjustable="box")


def _draw_static(ax, scene: dict, i: int, j: int) -> None:
    """What does not move: table top or floor, tank and target region."""
    from matplotlib.patches import Rectangle

    ground = scene.get("ground")
    if ground and ground.get("size"):
        size = [*ground["size"], 0.0]
        if j == 2:
            ax.plot([-size[i] / 2, size[i] / 2], [ground["height"]] * 2, color="0.4", lw=2)
        else:
            ax.add_patch(Rectangle((-size[i] / 2, -size[j] / 2), size[i], size[j], fill=False, ec="0.4", lw=1.2))
    elif ground and j == 2:
        ax.axhline(ground["height"], color="0.4", lw=2)
    fluid = scene.get("fluid")
    regions: list[tuple[Any, dict[str, Any]]] = [(fluid and fluid["tank"], {"ec": "0.3", "lw": 1.2}),
                                                 (fluid and fluid.get("target"), {"ec": "C2", "ls": "--", "lw": 1})]
    for region, style in regions:
        if region:
            lo, hi = np.asarray(region["lower"], float), np.asarray(region["upper"], float)
            ax.add_patch(Rectangle((lo[i], lo[j]), hi[i] - lo[i], hi[j] - lo[j], fill=False, **style))


def _label_lines(ep: Episode, numeric: bool) -> list[str]:
    """The facts a viewer checks the animation against: labels that came out true, and the numbers
    too where there are few of them (fluid and cloth episodes, not a many-pair collision scene)."""
    parts = [k for k, v in sorted(ep.labels.items()) if isinstance(v, (bool, np.bool_)) and v]
    if numeric:
        parts += [f"{k}={v:.3g}" for k, v in sorted(ep.labels.items())
                  if isinstance(v, float) and not isinstance(v, bool)]
    return textwrap.wrap(", ".join(parts) or "no label true", 95)


def _draw_frames(ds: Dataset, ep: Episode, most: int = MAX_FRAMES) -> list[np.ndarray]:
    """RGB frames (H, W, 3). Axes, ticks and the static scene are drawn once and blitted: redrawing
    them every frame would be most of the time."""
    plt = _pyplot()
    from matplotlib.patches import Polygon

    from factory.report.plots import object_paths

    recipe = episode_scene(Recipe.model_validate(ds.manifest["recipe"]), ep.params)  # its own sizes
    layout, scene = ds.layout, recipe.model_dump(mode="json")["scene"]
    shapes = {o.name: _outline_points(o.shape) for o in recipe.scene.objects if o.name in layout.objects}
    reach = {o: float(np.linalg.norm(p, axis=1).max()) for o, p in shapes.items()}
    pos = {o: layout.field(ep.states, o, "pos") for o in shapes}
    quat = {o: layout.field(ep.states, o, "quat") for o in shapes}
    coloured = _point_colours(ep, layout)
    points, values, value_name = coloured or (None, None, "")
    arms = _arms(recipe, layout, ep.states, {param_name(k): v for k, v in ep.params.items()})
    lo, hi = _scene_extent(scene, pos, reach, points, arms)
    contact_step = ep.contacts["step"].to_numpy()
    contact_pos = ep.contacts["position"].combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, 3)
    pairs = zip(ep.contacts["body_a"].to_pylist(), ep.contacts["body_b"].to_pylist(), strict=True)
    between_bodies = np.array([a != "ground" and b != "ground" for a, b in pairs], bool)

    header = f"{ds.manifest['recipe']['name']} · episode {ep.index}"
    labels = _label_lines(ep, numeric=bool(layout.points))
    top = 0.85 - 0.045 * len(labels)
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI)
    fig.subplots_adjust(left=0.08, right=0.88 if coloured else 0.98, bottom=0.14, top=top, wspace=0.3)
    title = fig.suptitle("", fontsize=7, animated=True)
    views = []
    for ax, (name, i, j) in zip(axes, VIEWS, strict=False):
        _draw_static(ax, scene, i, j)
        object_paths(ax, layout, ep.states, (i, j), lw=0.8, alpha=0.35)
        polys = {o: ax.add_patch(Polygon(np.zeros((3, 2)), closed=True, fc=f"C{layout.objects.index(o)}",
                                         ec="k", lw=0.6, alpha=0.85, label=o, animated=True)) for o in shapes}
        scatter = None
        if coloured:
            assert points is not None and values is not None
            scatter = ax.scatter(points[0, :, i], points[0, :, j], c=values[0], s=3 if name == "side" else 2,
                                 cmap="viridis", vmin=float(values.min()), vmax=float(values.max()), lw=0,
                                 zorder=3, animated=True)
        for k, arm in enumerate(arms):  # the tool point's path, then the chain drawn per frame
            ax.plot(arm.tool[:, i], arm.tool[:, j], color="0.35", lw=0.8, ls="--", alpha=0.6,
                    label=f"{recipe.robots[k].name} tool path" if name == "top" else None)
            if arm.goal is not None:
                ax.plot(arm.goal[i], arm.goal[j], marker="*", ms=8, color="gold", mec="k", mew=0.6, ls="none",
                        zorder=6, label=f"{recipe.robots[k].name} goal" if name == "top" else None)
        chains = [ax.plot([], [], color="0.25", lw=1.6, marker="o", ms=2.5, solid_capstyle="round", zorder=3,
                          animated=True)[0] for _ in arms]
        marks = [ax.plot([], [], **style, animated=True)[0] for style in CONTACT_STYLES]
        _fit_equal(ax, lo[[i, j]], hi[[i, j]])
        ax.set(title=f"{name} view", xlabel=f"{AXIS_NAMES[i]} (m)", ylabel=f"{AXIS_NAMES[j]} (m)")
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_fontsize(7)
        ax.yaxis.label.set_fontsize(7)
        views.append((i, j, polys, scatter, marks, chains))
    if coloured:
        bar = fig.colorbar(views[-1][3], cax=fig.add_axes([0.9, 0.14, 0.015, top - 0.14]))
        bar.set_label(value_name, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    if shapes or arms:
        axes[0].legend(fontsize=6, loc="upper left", framealpha=0.6)

    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    frames, previous = [], -1
    for f in _frames(len(ep.states), most):
        window = (contact_step > previous) & (contact_step <= f)  # contacts since the last drawn frame
        previous = f
        canvas.restore_region(background)
        for i, j, polys, scatter, marks, chains in views:
            for arm, line in zip(arms, chains, strict=True):
                line.set_data(*arm.chain(f, i, j))
                fig.draw_artist(line)
            for o, poly in polys.items():
                world = shapes[o] @ _rotation(quat[o][f]).T + pos[o][f]
                poly.set_xy(_hull(world[:, [i, j]]))
                fig.draw_artist(poly)
            if scatter is not None:
                assert points is not None and values is not None
                scatter.set_offsets(points[f][:, [i, j]])
                scatter.set_array(values[f])
                fig.draw_artist(scatter)
            for kind, line in enumerate(marks):
                shown = window & (between_bodies == bool(kind))
                line.set_data(contact_pos[shown, i], contact_pos[shown, j])
                fig.draw_artist(line)
        title.set_text("\n".join([f"{header} · t = {f * layout.record_dt:.2f} s", *labels]))
        fig.draw_artist(title)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return frames


def _viewable(frames: np.ndarray, stream: str) -> np.ndarray:
    """A stream's frames as RGB uint8: rgb as is, depth in grey (near light, over the episode's
    range), segmentation one colour per body (black where no body is seen)."""
    if stream == "rgb":
        return frames
    if stream == "depth":
        lo, hi = float(frames.min()), float(frames.max())
        grey = (255 * (hi - frames) / max(hi - lo, 1e-9)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    palette = (np.asarray(_pyplot().get_cmap("tab20").colors) * 255).astype(np.uint8)
    coloured = palette[(frames.astype(int) - 1) % len(palette)]
    coloured[frames == 0] = 0
    return coloured


def _draw_camera_frames(ds: Dataset, ep: Episode) -> list[np.ndarray]:
    """RGB frames (H, W, 3) of the episode's camera frames, every camera and stream side by side, at
    the recorded states `_frames` picks (a camera recording every k-th state shows its latest frame),
    under the schematic's title."""
    plt = _pyplot()
    tiles = [(c, s, _viewable(ep.frames[c.name][s], s)) for c in ds.layout.cameras for s in c.streams]
    labels = _label_lines(ep, numeric=bool(ds.layout.points))
    fig, axes = plt.subplots(1, len(tiles), figsize=(max(FIGSIZE[0], 2.2 * len(tiles)), FIGSIZE[1]), dpi=DPI,
                             squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.04, top=0.82 - 0.045 * len(labels), wspace=0.08)
    title = fig.suptitle("", fontsize=7, animated=True)
    images = []
    for ax, (camera, stream, pixels) in zip(axes[0], tiles, strict=True):
        ax.set_axis_off()
        ax.set_title(f"{camera.name} · {stream}", fontsize=7)
        images.append(ax.imshow(pixels[0], interpolation="nearest", animated=True))
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    header = f"{ds.manifest['recipe']['name']} · episode {ep.index}"
    frames = []
    for f in _frames(len(ep.states)):
        canvas.restore_region(background)
        for image, (camera, _, pixels) in zip(images, tiles, strict=True):
            image.set_data(pixels[f // camera.every])
            fig.draw_artist(image)
        title.set_text("\n".join([f"{header} · t = {f * ds.layout.record_dt:.2f} s", *labels]))
        fig.draw_artist(title)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return frames

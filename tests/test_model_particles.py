"""The particle (graph) model on synthetic particle arrays and hand-made meshes (the real datasets
run through the report in tests/test_model_particles_report.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from factory.model.mesh import batch_edges, mesh_edges  # noqa: E402
from factory.model.particle_train import draw_probabilities  # noqa: E402
from factory.model.particles import (  # noqa: E402
    ParticleModel,
    ParticlePredictor,
    radius_graph,
    windows,
)

RADIUS = 0.15


def simulate(graphs: int, particles: int = 32, steps: int = 30, seed: int = 0) -> torch.Tensor:
    """Soft-sphere particles falling in a 2-D box: gravity, pairwise repulsion within RADIUS, a
    floor they bounce off. Returns positions (G, N, T, 2)."""
    gen = torch.Generator().manual_seed(seed)
    pos = torch.rand(graphs, particles, 2, generator=gen) * torch.tensor([1.0, 0.6]) + torch.tensor([0.0, 0.2])
    vel = torch.zeros_like(pos)
    out = [pos]
    for _ in range(steps - 1):
        d = pos[:, :, None] - pos[:, None]
        dist = d.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        push = ((RADIUS - dist).clamp_min(0) * d / dist).sum(2) * 2e-2
        vel = vel + push + torch.tensor([0.0, -2e-3])
        pos = pos + vel
        below = pos[..., 1] < 0
        pos[..., 1] = pos[..., 1].abs()
        vel[..., 1] = torch.where(below, -0.5 * vel[..., 1], vel[..., 1])
        out.append(pos)
    return torch.stack(out, 2)


def test_radius_graph_matches_brute_force():
    pos = torch.rand(2, 30, 3, generator=torch.Generator().manual_seed(1))
    edges = radius_graph(pos, 0.3)
    flat = pos.reshape(60, 3)
    expected = {(i, j) for i in range(60) for j in range(60)
                if i != j and i // 30 == j // 30 and (flat[i] - flat[j]).norm() < 0.3}
    assert set(map(tuple, edges.T.tolist())) == expected


def test_predictions_are_translation_invariant():
    torch.manual_seed(0)
    model = ParticleModel(dims=2, history=2, radius=RADIUS)
    win, _ = windows(simulate(1), history=2)
    with torch.no_grad():
        np_ = model(win[:4]), model(win[:4] + torch.tensor([3.0, -1.0]))
    torch.testing.assert_close(*np_, atol=1e-4, rtol=1e-4)


def test_message_passing_learns_interactions_that_constant_velocity_misses():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_pos, test_pos = simulate(6, seed=1), simulate(2, seed=2)
    model = ParticleModel(dims=2, history=2, radius=RADIUS, hidden=48, steps=2)
    model.set_normalization(train_pos)
    win, nxt = windows(train_pos, history=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        idx = torch.randint(len(win), (16,))
        loss = model.loss(win[idx], nxt[idx], noise=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test_win, test_nxt = windows(test_pos, history=2)
    with torch.no_grad():
        model_err = (model.step(test_win) - test_nxt[:, :, 0]).pow(2).mean()
    const_vel = 2 * test_win[:, :, -1] - test_win[:, :, -2]
    cv_err = (const_vel - test_nxt[:, :, 0]).pow(2).mean()
    assert model_err < 0.5 * cv_err


def _lattice(rows: int = 5, cols: int = 6, a: float = 0.1) -> np.ndarray:
    """A rhombus of a triangular lattice of spacing `a` (convex, every triangle equilateral: a
    unique Delaunay mesh), tilted out of the xy plane and shifted, as a (rows·cols, 3) array."""
    pts = np.array([[(c + 0.5 * r) * a, r * a * np.sqrt(3) / 2, 0.0] for r in range(rows) for c in range(cols)])
    tilt = np.array([[1, 0, 0], [0, np.cos(0.7), -np.sin(0.7)], [0, np.sin(0.7), np.cos(0.7)]])
    return pts @ tilt.T + np.array([0.3, -0.2, 0.5])


def test_mesh_edges_are_the_lattice_triangles_edges():
    rest = _lattice()
    edges = mesh_edges(rest)
    found = set(map(tuple, edges.T.tolist()))
    dist = np.linalg.norm(rest[:, None] - rest[None], axis=-1)
    expected = {(i, j) for i in range(len(rest)) for j in range(len(rest)) if i != j and abs(dist[i, j] - 0.1) < 1e-9}
    assert found == expected  # both directions, no hull slivers, no duplicates
    assert edges.shape[1] == len(found)
    shifted = batch_edges([edges, edges], len(rest))
    assert shifted.shape == (2, 2 * edges.shape[1]) and shifted[:, edges.shape[1]:].min() == len(rest)


@pytest.mark.parametrize("mesh", [False, True])
def test_predictions_follow_any_order_of_the_points(mesh):
    """Relabelling the points (and the mesh and rest shape with them) relabels the prediction,
    nothing else."""
    torch.manual_seed(0)
    rest = _lattice()
    n = len(rest)
    model = ParticleModel(dims=3, history=2, radius=0.15, hidden=16, steps=2, movers=1, actions=3,
                          lower=[-1.0, -1.0, 0.0], upper=[1.0, 1.0, 1.0], mesh=mesh, rest_bounds=True).eval()
    gen = torch.Generator().manual_seed(3)
    window = torch.from_numpy(rest).float()[None, :, None] + 0.01 * torch.randn(2, n, 3, 3, generator=gen).cumsum(2)
    movers, action = torch.randn(2, 1, 7, generator=gen), torch.randn(2, 3, generator=gen)
    perm = torch.randperm(n, generator=gen)
    inverse = torch.argsort(perm)

    def predict(order: torch.Tensor, index: np.ndarray) -> np.ndarray:
        p = ParticlePredictor(model)
        return p.predict(window[:, order].numpy(), movers.numpy(), action.numpy(), np.array([0, 5]), rest[index])

    base = predict(torch.arange(n), np.arange(n))
    permuted = predict(perm, perm.numpy())
    np.testing.assert_allclose(permuted, base[:, perm.numpy()], atol=1e-5)
    assert not np.allclose(base[:, inverse.numpy()], base)  # the check can see a wrong order


def test_steps_stay_outside_spherical_movers_and_above_the_ground():
    """However wrong an untrained model's acceleration, a step never leaves a point closer to the
    ball's surface or to the ground than the training points came."""
    torch.manual_seed(0)
    model = ParticleModel(dims=3, history=2, radius=0.05, hidden=8, steps=1, movers=1,
                          lower=[-1e3, -1e3, 0.0], upper=[1e3, 1e3, 1e3]).eval()
    ball = torch.tensor([0.0, 0.0, 0.2, 0.1, 0.0, 0.0, 0.0])  # centre, radius, box size (none)
    train = torch.tensor([[[0.0, 0.0, 0.31], [0.4, 0.0, 0.02]]])  # 0.01 above the ball, 0.02 above ground
    model.set_clearance([train], [ball.expand(1, 1, 7)])
    window = (torch.rand(4, 64, 3, 3) * torch.tensor([0.6, 0.6, 0.4]) - torch.tensor([0.3, 0.3, 0.0])).sort(2).values
    movers = ball.expand(4, 1, 7)
    with torch.no_grad():
        nxt = model.step(window, movers)
        free = 2 * window[:, :, -1] - window[:, :, -2] + model(window, movers) * model.acc_std + model.acc_mean

    def too_close(p: torch.Tensor) -> torch.Tensor:
        return ((p - ball[:3]).norm(dim=-1) < 0.11 - 1e-6) | (p[..., 2] < 0.02 - 1e-6)

    assert too_close(free).any() and not too_close(nxt).any()


def test_energy_draws_favour_bursts_and_leave_every_window_a_chance():
    """Half the draws by acceleration energy: a burst of 60× the energy is drawn 5.7× as often as a
    window at rest, which keeps half a uniform share; no focus is uniform."""
    energy = np.array([0.0, 1.0, 1.0, 2.0, 60.0])
    p = draw_probabilities(energy, focus=0.5)
    assert p.sum() == pytest.approx(1.0) and p[0] == pytest.approx(0.1)
    assert p[-1] == pytest.approx(0.1 + 0.5 * 60 / 64)
    np.testing.assert_allclose(draw_probabilities(energy, 0.0), np.full(5, 0.2))

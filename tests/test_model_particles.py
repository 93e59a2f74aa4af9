"""The particle (graph) model on synthetic particle arrays: no particle datasets exist yet."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from factory.model.particles import ParticleModel, radius_graph, windows  # noqa: E402

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

"""The graph network on hand-made graphs, and the relational rigid model's symmetries and integration."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from factory.model.bodies import STATIC_SIZE, Scene, body_graph, scene_edges  # noqa: E402
from factory.model.graph import EncodeProcessDecode, Graph, aggregate  # noqa: E402
from factory.model.relational import RelationalModel  # noqa: E402


def test_aggregate_sums_edges_at_their_receivers():
    edges = torch.tensor([[1.0, 0], [2, 0], [0, 5]])
    senders, receivers = torch.tensor([0, 2, 1]), torch.tensor([1, 1, 0])
    out = aggregate(edges, receivers, 3)
    torch.testing.assert_close(out, torch.tensor([[0.0, 5], [3, 0], [0, 0]]))
    assert senders.shape == receivers.shape


def test_messages_reach_exactly_as_far_as_the_steps():
    """On a chain 0 → 1 → 2, one message-passing step carries node 0's features to node 1 only;
    two steps carry them to node 2; a node with no incoming edges depends on nothing else."""
    torch.manual_seed(0)
    senders, receivers = torch.tensor([0, 1]), torch.tensor([1, 2])
    nodes, edges = torch.randn(3, 4), torch.randn(2, 2)
    for steps, reached in ((1, [True, True, False]), (2, [True, True, True])):
        net = EncodeProcessDecode(4, 2, 3, hidden=16, steps=steps).eval()
        changed = nodes.clone()
        changed[0] += 1.0
        a = net(Graph(nodes, edges, senders, receivers))
        b = net(Graph(changed, edges, senders, receivers))
        moved = (a - b).abs().amax(-1) > 1e-6
        assert moved.tolist() == reached
        c = net(Graph(nodes + torch.tensor([[0.0], [1.0], [1.0]]), edges, senders, receivers))
        assert torch.allclose(a[0], c[0])  # node 0 receives nothing: others cannot move it


def _scene_and_model(seed: int = 0) -> tuple[Scene, RelationalModel, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    scene = Scene(("a", "b", "c"), True, 0.0, (1.0, 1.0))
    model = RelationalModel.for_scene(scene, 0.02, hidden=16, steps=2).eval()
    b = 5
    state = torch.randn(b, 3, 13) * 0.3
    state[..., 3:7] = torch.nn.functional.normalize(torch.randn(b, 3, 4), dim=-1)
    state = state.reshape(b, 39)
    action = torch.randn(b, 9) * 0.1
    static = torch.rand(b, 4, STATIC_SIZE)
    static[..., -1] = 0.0  # nothing fixed
    model.set_normalization(state, action, static, state + 0.01 * torch.randn_like(state))
    return scene, model, state, action, static


def test_relational_model_is_equivariant_to_the_order_of_objects():
    _scene, model, state, action, static = _scene_and_model()
    order = [0, 2, 1]  # swap objects b and c
    swap_state = state.reshape(-1, 3, 13)[:, order].reshape(-1, 39)
    swap_action = action.reshape(-1, 3, 3)[:, order].reshape(-1, 9)
    swap_static = static[:, [0, 1, 3, 2]]  # the ground stays node 0
    with torch.no_grad():
        out = model.step(state, action, static).reshape(-1, 3, 13)
        swapped = model.step(swap_state, swap_action, swap_static).reshape(-1, 3, 13)
    torch.testing.assert_close(swapped, out[:, order], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[:, 1], out[:, 2])  # the objects really differ


def test_edges_see_the_table_point_under_each_body():
    scene = Scene(("a",), True, 0.5, (0.5, 0.5))  # a 1 m × 1 m table top at z = 0.5
    state = torch.zeros(1, 13)
    state[0, :3] = torch.tensor([0.7, -0.2, 0.8])  # past the table's +x edge, 0.3 m above its top
    state[0, 3] = 1.0
    g = body_graph(state, torch.zeros(1, 3), torch.zeros(1, 2, STATIC_SIZE), scene, 0.02)
    senders, receivers = scene_edges(scene)
    assert senders.tolist() == [0] and receivers.tolist() == [1]  # nothing is sent into the ground
    torch.testing.assert_close(g.edges[0, 0, :3], torch.tensor([0.5 - 0.7, 0.0, 0.5 - 0.8]))


def test_untrained_step_integrates_pushes_exactly_and_keeps_fixed_bodies_still():
    _scene, model, state, action, static = _scene_and_model(1)
    for p in model.net.decoder[-1].parameters():
        torch.nn.init.zeros_(p)
    model.out_mean.zero_()
    static[:, 3, -1] = 1.0  # object c is fixed
    mass = static[:, 1:, -3].exp()
    with torch.no_grad():
        nxt = model.step(state, action, static).reshape(-1, 3, 13)
    s = state.reshape(-1, 3, 13)
    push = action.reshape(-1, 3, 3) / mass[..., None]
    torch.testing.assert_close(nxt[:, :2, 7:10], s[:, :2, 7:10] + push[:, :2])
    torch.testing.assert_close(nxt[:, :2, 0:3], s[:, :2, 0:3] + (2 * s[:, :2, 7:10] + push[:, :2]) / 2 * 0.02)
    torch.testing.assert_close(nxt[:, 2, 7:13], s[:, 2, 7:13])
    np.testing.assert_allclose(nxt[..., 3:7].norm(dim=-1).numpy(), 1.0, atol=1e-6)


def test_rollout_curriculum_doubles_up_to_the_horizon():
    from factory.model.rigid_train import horizon_at

    assert [horizon_at(p / 10, 4) for p in range(11)] == [1, 1, 1, 1, 2, 2, 2, 4, 4, 4, 4]
    assert [horizon_at(p / 4, 8) for p in range(5)] == [1, 2, 4, 8, 8]
    assert horizon_at(0.0, 1) == horizon_at(0.99, 1) == 1


def test_contact_features_see_a_collision_and_the_table_edge_one_interval_ahead():
    """A ball (r 0.06) 0.2 m from a resting box (half 0.075) at 3 m/s comes 0.06 m closer in the next
    0.02 s: the gap now is positive, the look-ahead gap negative. A ball 5 cm from the table's edge
    at 3 m/s passes it within the interval: the margin turns negative. Resting on the table: gap 0."""
    from factory.model.bodies import _row

    scene = Scene(("ball", "box"), True, 0.0, (1.0, 1.0))
    rows = [_row("ground", (1.0, 1.0, 0.0), 0.0, 0.3, True), _row("sphere", (0.06,) * 3, 0.0, 0.3, False),
            _row("box", (0.075,) * 3, 0.0, 0.3, False)]
    state = torch.zeros(2, 2, 13)
    state[..., 3] = 1.0
    state[0, 0, :3], state[0, 0, 7] = torch.tensor([0.0, 0.0, 0.06]), 3.0  # towards the box
    state[1, 0, :3], state[1, 0, 8] = torch.tensor([0.0, 0.95, 0.06]), 3.0  # towards the table's +y edge
    state[:, 1, :3] = torch.tensor([[0.2, 0.0, 0.075], [0.5, -0.5, 0.075]])
    g = body_graph(state.reshape(2, -1), torch.zeros(2, 6), torch.tensor([rows, rows]), scene, 0.02)
    gap_now, gap_ahead, closing, margin_now, margin_ahead = g.edges[..., -5:].unbind(-1)
    edge = {(int(s), int(r)): k for k, (s, r) in enumerate(zip(g.senders, g.receivers, strict=True))}
    box_to_ball, ground_to_ball = edge[(2, 1)], edge[(0, 1)]
    assert gap_now[0, box_to_ball] > 0.3 and gap_ahead[0, box_to_ball] < 0 and closing[0, box_to_ball] > 2.9
    assert gap_now[1, box_to_ball] > 1.0 and gap_ahead[1, box_to_ball] > 1.0
    assert abs(gap_now[0, ground_to_ball]) < 1e-5  # resting on the table top
    assert margin_now[0, ground_to_ball] > 2 * margin_now[1, ground_to_ball] > 0 > margin_ahead[1, ground_to_ball]
    assert margin_ahead[0, ground_to_ball] > 0

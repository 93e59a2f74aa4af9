"""Plain graph data and an encode → process → decode graph network over it (Battaglia et al. 2018;
DeepMind's learning_to_simulate `EncodeProcessDecode`).

A `Graph` is arrays only: node features (..., N, Fn), edge features (..., E, Fe) and the edges'
sender and receiver node indices (E,). Leading batch dimensions are shared by nodes and edges, so
a batch of scenes with the same bodies is one graph with a batch dimension, and a hand-made graph
of three nodes runs through exactly the same code. Messages are summed at their receivers, so the
network is equivariant to the order of nodes by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise, permutations

import torch
from torch import nn


@dataclass(frozen=True)
class Graph:
    nodes: torch.Tensor  # (..., N, Fn)
    edges: torch.Tensor  # (..., E, Fe)
    senders: torch.Tensor  # (E,) long
    receivers: torch.Tensor  # (E,) long


def complete_edges(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Senders and receivers of every ordered pair of distinct nodes among n."""
    pairs = list(permutations(range(n), 2))
    senders = torch.tensor([s for s, _ in pairs], dtype=torch.long)
    receivers = torch.tensor([r for _, r in pairs], dtype=torch.long)
    return senders, receivers


def aggregate(edges: torch.Tensor, receivers: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Sum of edge features (..., E, F) at their receivers: (..., N, F)."""
    out = edges.new_zeros(*edges.shape[:-2], n_nodes, edges.shape[-1])
    return out.index_add(-2, receivers, edges)


def mlp(inp: int, hidden: int, out: int, layers: int = 2, norm: bool = True) -> nn.Sequential:
    """`layers` hidden SiLU layers; LayerNorm on the output keeps latents on one scale (as in GNS)."""
    dims = [inp] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in pairwise(dims):
        blocks += [nn.Linear(a, b), nn.SiLU()]
    blocks.append(nn.Linear(dims[-1], out))
    if norm:
        blocks.append(nn.LayerNorm(out))
    return nn.Sequential(*blocks)


class InteractionBlock(nn.Module):
    """One message-passing step: edges from (edge, sender, receiver), nodes from (node, summed
    incoming edges); both residual.

    `factored` computes the same function with fewer operations where edges far outnumber nodes
    (particle graphs, ~8 edges a node): the edge function's first layer is linear in the
    concatenation, so the sender's and receiver's parts are applied once per node and gathered,
    instead of gathering whole latents and applying them once per edge."""

    def __init__(self, hidden: int, factored: bool = False):
        super().__init__()
        self.edge_fn = mlp(3 * hidden, hidden, hidden, layers=1)
        self.node_fn = mlp(2 * hidden, hidden, hidden, layers=1)
        self.factored = factored

    def edge_update(self, g: Graph) -> torch.Tensor:
        if not self.factored:
            sent = g.nodes.index_select(-2, g.senders)
            received = g.nodes.index_select(-2, g.receivers)
            return self.edge_fn(torch.cat([g.edges, sent, received], -1))
        first, h = self.edge_fn[0], g.edges.shape[-1]
        assert isinstance(first, nn.Linear)
        w = first.weight
        per_node = g.nodes @ torch.cat([w[:, h:2 * h], w[:, 2 * h:]]).T  # (..., N, 2h): sender, receiver parts
        pre = (nn.functional.linear(g.edges, w[:, :h], first.bias)
               + per_node[..., :h].index_select(-2, g.senders) + per_node[..., h:].index_select(-2, g.receivers))
        return self.edge_fn[1:](pre)

    def forward(self, g: Graph) -> Graph:
        edges = g.edges + self.edge_update(g)
        incoming = aggregate(edges, g.receivers, g.nodes.shape[-2])
        nodes = g.nodes + self.node_fn(torch.cat([g.nodes, incoming], -1))
        return replace(g, nodes=nodes, edges=edges)


class EncodeProcessDecode(nn.Module):
    """Encode node and edge features to latents, pass messages `steps` times, decode each node."""

    def __init__(self, node_in: int, edge_in: int, out: int, hidden: int = 128, steps: int = 3,
                 factored: bool = False):
        super().__init__()
        self.node_encoder = mlp(node_in, hidden, hidden, layers=1)
        self.edge_encoder = mlp(edge_in, hidden, hidden, layers=1)
        self.blocks = nn.ModuleList(InteractionBlock(hidden, factored) for _ in range(steps))
        self.decoder = mlp(hidden, hidden, out, norm=False)

    def forward(self, g: Graph) -> torch.Tensor:
        latent = replace(g, nodes=self.node_encoder(g.nodes), edges=self.edge_encoder(g.edges))
        for block in self.blocks:
            latent = block(latent)
        return self.decoder(latent.nodes)

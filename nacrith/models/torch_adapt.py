"""The learner of dynamic evaluation: adapters, their Adam state, and the steps they learn from.

One :class:`Learner` belongs to one :class:`~.torch_lanes.TorchEvaluator` and forgets
everything at its ``reset()`` (every group). The order of operations is FORMAT.md's
("Dynamic evaluation"); :mod:`.adapt` holds the parameters and the exact update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..neural.adapt import (
    ATTENTION_WEIGHTS,
    MLP_WEIGHTS,
    TARGET_ATTENTION,
    TARGET_BIAS,
    TARGET_MLP,
    TARGET_NORM,
    AdamState,
    AdaptParams,
    adam_update,
    lora_init,
)

__all__ = ["Learner"]


@dataclass
class _Record:
    """One step as the learner keeps it: who stepped, fed what, where, and the input of the first adapted layer."""

    lanes: list[int]
    tokens: list[int]
    positions: list[int]
    shifts: list[int]
    """Each lane's total slide at the step, to find its tokens in the cache after later slides."""
    hidden: torch.Tensor
    """(n, 1, d_model)."""


class Learner:
    """Adapters of one evaluator, learning every ``params.interval`` steps from the predictions since."""

    def __init__(self, evaluator, params: AdaptParams) -> None:
        self.evaluator = evaluator
        self.params = params
        self.net = evaluator._net
        config = self.net.config
        problems = params.problems(n_layer=config.n_layer)
        if problems:
            raise ValueError("unusable adaptation parameters: " + ", ".join(problems))
        self.split = config.n_layer - params.layers
        """The first adapted layer: layers before it are frozen, their outputs kept per step."""
        self.reset()

    def reset(self) -> None:
        """Fresh adapters and optimizer, no steps: a group starts from the model as it was loaded."""
        p, net, device = self.params, self.net, self.net.device
        self.tensors: list[torch.Tensor] = []
        """Everything that learns, in the order of the spec (and of their initial values' streams)."""
        self.adapters: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        names = (ATTENTION_WEIGHTS if p.targets & TARGET_ATTENTION else ()) + (MLP_WEIGHTS if p.targets & TARGET_MLP else ())
        for layer in range(self.split, net.config.n_layer):
            for name in names:
                out_features, in_features = net.layers[layer][name].shape
                down = torch.from_numpy(lora_init(p.rank, in_features, len(self.tensors) // 2)).to(device)
                up = torch.zeros(out_features, p.rank, device=device)
                self.adapters.setdefault(layer, {})[name] = (down, up)
                self.tensors += [down, up]
        self.norm = net.output_norm.clone() if p.targets & TARGET_NORM else None
        self.bias = torch.zeros(net.config.vocab_size, device=device) if p.targets & TARGET_BIAS else None
        self.tensors += [t for t in (self.norm, self.bias) if t is not None]
        for t in self.tensors:
            t.requires_grad_(True)
        self.moments = [(torch.zeros_like(t), torch.zeros_like(t)) for t in self.tensors]
        self.adam = AdamState()
        self.steps = 0
        self.records: list[_Record] = []
        self.shift: dict[int, int] = {}

    def slid(self, lane: int, drop: int) -> None:
        self.shift[lane] = self.shift.get(lane, 0) + drop

    def step(self, lanes: list[int], tokens: torch.Tensor, slots: slice, positions: torch.Tensor) -> np.ndarray:
        """The evaluator's step with adaptation: learn first when an update is due, then predict."""
        if tokens.shape[1] != 1:
            raise ValueError("an adapting evaluator steps one token per lane (lockstep coding)")
        fed = tokens.view(-1).tolist()
        if self.steps and self.steps % self.params.interval == 0:
            self._learn(lanes, fed)
        net, n_layer = self.net, self.net.config.n_layer
        cache = self.evaluator._cache
        with torch.no_grad():
            hidden = net.layers_forward(net.embed(tokens), cache, slots, positions, range(self.split))
            x = net.layers_forward(hidden, cache, slots, positions, range(self.split, n_layer), adapters=self.adapters)
            logits = net.logits(x, self.norm, self.bias).view(len(lanes), -1)
        shifts = [self.shift.get(lane, 0) for lane in lanes]
        self.records.append(_Record(list(lanes), fed, positions.view(-1).tolist(), shifts, hidden))
        self.steps += 1
        return logits.numpy() if logits.device.type == "cpu" else logits.cpu().numpy()

    def _learn(self, lanes: list[int], fed: list[int]) -> None:
        """One Adam step on the mean coding loss (nats) of the kept predictions of ``lanes`` (those stepping now,
        in slots 0..n-1), each prediction's target being the token its lane was fed at the next step."""
        records, self.records = self.records, []
        hidden, where, targets = [], [], []
        for j, record in enumerate(records):
            after_lanes, after_tokens = (records[j + 1].lanes, records[j + 1].tokens) if j + 1 < len(records) else (lanes, fed)
            row = {lane: r for r, lane in enumerate(record.lanes)}
            row_after = {lane: r for r, lane in enumerate(after_lanes)}
            try:
                rows = [row[lane] for lane in lanes]
                targets.append([after_tokens[row_after[lane]] for lane in lanes])
            except KeyError:
                raise ValueError("an adapting evaluator needs lockstep lanes: a lane that steps stepped in every step before") from None
            hidden.append(record.hidden[rows, 0])
            where.append([record.positions[r] - (self.shift.get(lane, 0) - record.shifts[r]) for r, lane in zip(rows, lanes)])
        device = self.net.device
        x = torch.stack(hidden, dim=1)  # (n, steps, d)
        positions = torch.tensor(where, device=device).T.contiguous()
        goal = torch.tensor(targets, device=device).T.contiguous()
        net = self.net
        with torch.enable_grad():
            out = net.layers_forward(x, self.evaluator._cache, slice(0, len(lanes)), positions, range(self.split, net.config.n_layer),
                                     write=False, adapters=self.adapters)
            logits = net.logits(out, self.norm, self.bias)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), goal.view(-1))
            grads = torch.autograd.grad(loss, self.tensors)
        self.adam.advance()
        with torch.no_grad():
            for tensor, grad, (m, v) in zip(self.tensors, grads, self.moments):
                adam_update(tensor, grad, m, v, self.adam, self.params.learning_rate)

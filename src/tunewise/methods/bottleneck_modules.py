"""The bottleneck adapter layer (torch), kept apart so importing the registry stays light."""

from __future__ import annotations

import torch
from torch import nn

_ACT = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


class Bottleneck(nn.Module):
    """``inner(x)`` followed by a residual bottleneck: h + up(act(down(h)))."""

    def __init__(self, inner: nn.Linear, size: int, activation: str, init_std: float):
        super().__init__()
        self.inner = inner
        width = inner.out_features
        self.adapter_down = nn.Linear(width, size)
        self.adapter_act = _ACT[activation]()
        self.adapter_up = nn.Linear(size, width)
        nn.init.normal_(self.adapter_down.weight, std=init_std)
        nn.init.zeros_(self.adapter_down.bias)
        nn.init.zeros_(self.adapter_up.weight)
        nn.init.zeros_(self.adapter_up.bias)
        self.to(inner.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inner(x)
        return h + self.adapter_up(self.adapter_act(self.adapter_down(h)))

"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from lamina.optim._flat import FlatOptimizer, check, check_fused, effective_grad
from lamina.optim.optimizer import to_scalar
from lamina.tensor import Tensor

__all__ = ["SGD"]


class SGD(FlatOptimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    g = grad + weight_decay p;  b = momentum b + (1 - dampening) g  (b = g at the first step);
    p -= lr (g + momentum b if nesterov else b)

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 1e-3.
        momentum: momentum factor. Default: 0.
        dampening: dampening of the momentum. Default: 0.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        nesterov: Nesterov momentum (needs momentum > 0 and zero dampening). Default: False.
        maximize: maximise the objective instead of minimising it. Default: False.
        foreach, fused: accepted for PyTorch compatibility; lamina always runs its fused flat step.

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        check(not lr < 0.0, f"Invalid learning rate: {lr}")
        check(not momentum < 0.0, f"Invalid momentum value: {momentum}")
        check(not weight_decay < 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach, "differentiable": differentiable,
                    "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        check_fused(fused, foreach)

    def _array_kinds(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _prepare(self, group, p, layout, i):
        if group["momentum"] == 0:
            return False  # no state at all, as in PyTorch
        state = self.state[p]
        if state.get("momentum_buffer") is None:
            state["momentum_buffer"] = layout.view("momentum_buffer", i)
            return True  # the buffer starts as a copy of the gradient
        return False

    def _coeffs(self, group, first):
        return (to_scalar(group["lr"]), group["momentum"], group["dampening"], group["weight_decay"],
                group["nesterov"], group["maximize"], first)

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, momentum, dampening, weight_decay, nesterov, maximize, first = c
        g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        if momentum != 0:
            buf = s[0]
            if first:
                xp.copyto(buf, g)
            else:
                buf *= momentum
                if dampening == 0:
                    buf += g
                else:
                    xp.multiply(g, 1 - dampening, out=t[1])
                    buf += t[1]
            if nesterov:
                xp.multiply(buf, momentum, out=t[1])
                t[1] += g
                g = t[1]
            else:
                g = buf
        xp.multiply(g, -lr, out=t[2])
        p += t[2]

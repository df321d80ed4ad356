"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from lamina.optim._flat import FlatOptimizer, advance_step, check, check_fused, check_lr, effective_grad
from lamina.optim.optimizer import scalar_state, to_scalar
from lamina.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(FlatOptimizer):
    """Adagrad (Duchi et al., 2011).

    s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 1e-2.
        lr_decay: learning-rate decay. Default: 0.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        initial_accumulator_value: starting value of the sum of squares. Default: 0.
        eps: added to the denominator. Default: 1e-10.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.Adagrad(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check(0.0 <= initial_accumulator_value,
              f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        check_fused(fused, foreach)
        for group in self.param_groups:  # PyTorch creates Adagrad's state eagerly
            for p in group["params"]:
                state = self.state[p]
                state["step"] = scalar_state(0.0)
                state["sum"] = Tensor._make(p.xp.full(p._data.shape, initial_accumulator_value, dtype=p._data.dtype),
                                            False, None, 0)

    def _array_kinds(self, group):
        return ("sum",)

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
            view = layout.view("sum", i)
            view._data.fill(self.defaults["initial_accumulator_value"])
            state["sum"] = view
        return advance_step(state)

    def _coeffs(self, group, step):
        lr = to_scalar(group["lr"])
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        return group["eps"], group["weight_decay"], group["maximize"], clr

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        eps, weight_decay, maximize, clr = c
        g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        state_sum = s[0]
        xp.multiply(g, g, out=t[1])
        state_sum += t[1]
        std = xp.sqrt(state_sum, out=t[1])
        std += eps
        xp.divide(g, std, out=std)
        std *= -clr
        p += std

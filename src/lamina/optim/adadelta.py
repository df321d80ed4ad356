"""Adadelta: unit-corrected steps from running averages of squared gradients and squared updates."""

from lamina.optim._flat import FlatOptimizer, advance_step, check, check_lr, effective_grad, ema_sq_, init_arrays
from lamina.optim.optimizer import scalar_state, to_scalar

__all__ = ["Adadelta"]


class Adadelta(FlatOptimizer):
    """Adadelta (Zeiler, 2012).

    v = rho v + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(v + eps) g;  u = rho u + (1 - rho) d^2;  p -= lr d

    Args:
        params: parameters or parameter groups to optimise.
        lr: coefficient that scales the update. Default: 1.0.
        rho: running-average coefficient. Default: 0.9.
        eps: added inside the square roots. Default: 1e-6.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.Adadelta(model.parameters())
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _array_kinds(self, group):
        return ("square_avg", "acc_delta")

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        return advance_step(state)

    def _coeffs(self, group, step):
        return to_scalar(group["lr"]), group["rho"], group["eps"], group["weight_decay"], group["maximize"]

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, rho, eps, weight_decay, maximize = c
        g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        square_avg, acc_delta = s
        ema_sq_(xp, square_avg, g, rho, t[1])
        std = xp.add(square_avg, eps, out=t[1])
        xp.sqrt(std, out=std)
        delta = xp.add(acc_delta, eps, out=t[2])
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        ema_sq_(xp, acc_delta, delta, rho, t[1])
        delta *= -lr
        p += delta

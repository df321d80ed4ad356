"""Adamax: Adam with the infinity norm of past gradients in place of their root mean square."""

from lamina.optim._flat import (
    FlatOptimizer,
    advance_step,
    check,
    check_betas,
    check_lr,
    effective_grad,
    init_arrays,
    lerp_,
)
from lamina.optim.optimizer import scalar_state, to_scalar

__all__ = ["Adamax"]


class Adamax(FlatOptimizer):
    """Adamax (Kingma & Ba, 2015, section 7).

    m = beta1 m + (1 - beta1) g;  u = max(beta2 u, |g| + eps);  p -= lr / (1 - beta1^t) * m / u

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 2e-3.
        betas: coefficients of the running average and of the infinity norm. Default: (0.9, 0.999).
        eps: added to |g|. Default: 1e-8.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.Adamax(model.parameters())
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _array_kinds(self, group):
        return ("exp_avg", "exp_inf")

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        return advance_step(state)

    def _coeffs(self, group, step):
        lr = to_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        clr = lr / (1 - beta1 ** step)
        return beta1, beta2, group["eps"], group["weight_decay"], group["maximize"], clr

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        beta1, beta2, eps, weight_decay, maximize, clr = c
        g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        exp_avg, exp_inf = s
        lerp_(xp, exp_avg, g, 1 - beta1, t[1])
        exp_inf *= beta2
        norm = xp.abs(g, out=t[1])
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)
        xp.divide(exp_avg, exp_inf, out=norm)
        norm *= -clr
        p += norm

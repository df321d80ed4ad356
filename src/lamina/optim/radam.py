"""RAdam: Adam with a rectified adaptive learning rate during warm-up."""

from lamina.optim._flat import (
    FlatOptimizer,
    advance_step,
    check,
    check_betas,
    check_lr,
    effective_grad,
    ema_sq_,
    init_arrays,
    lerp_,
)
from lamina.optim.optimizer import scalar_state, to_scalar

__all__ = ["RAdam"]


class RAdam(FlatOptimizer):
    """RAdam (Liu et al., 2020): plain momentum SGD while the variance of the adaptive rate is intractable
    (rho_t <= 5), Adam with the rectification term r_t afterwards.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 1e-3.
        betas: running-average coefficients of the gradient and its square. Default: (0.9, 0.999).
        eps: added to the denominator. Default: 1e-8.
        weight_decay: weight decay (L2 added to the gradient, or decoupled). Default: 0.
        decoupled_weight_decay: AdamW-style decoupled weight decay. Default: False.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.RAdam(model.parameters())
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable, "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _array_kinds(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        return advance_step(state)

    def _coeffs(self, group, step):
        lr = to_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            scale = -lr * rect * bias_correction2**0.5 / bias_correction1
        else:
            scale = None
        return (lr, beta1, beta2, group["eps"], group["weight_decay"], group["decoupled_weight_decay"],
                group["maximize"], -lr / bias_correction1, scale)

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, beta1, beta2, eps, weight_decay, decoupled, maximize, plain, scale = c
        if decoupled and weight_decay != 0:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, g, p, 0, maximize, t[0])
        else:
            g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        exp_avg, exp_avg_sq = s
        lerp_(xp, exp_avg, g, 1 - beta1, t[1])
        ema_sq_(xp, exp_avg_sq, g, beta2, t[1])
        upd = t[1]
        if scale is None:
            xp.multiply(exp_avg, plain, out=upd)
        else:
            xp.sqrt(exp_avg_sq, out=upd)
            upd += eps
            xp.divide(exp_avg, upd, out=upd)
            upd *= scale
        p += upd

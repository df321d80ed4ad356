"""NAdam: Adam with Nesterov momentum and a momentum schedule."""

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

__all__ = ["NAdam"]


def _mu(beta1, step, momentum_decay):
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


class NAdam(FlatOptimizer):
    """NAdam (Dozat, 2016), with the momentum schedule mu_t = beta1 (1 - 0.96^(t psi) / 2).

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 2e-3.
        betas: running-average coefficients of the gradient and its square. Default: (0.9, 0.999).
        eps: added to the denominator. Default: 1e-8.
        weight_decay: weight decay (L2 added to the gradient, or decoupled). Default: 0.
        momentum_decay: psi of the momentum schedule. Default: 4e-3.
        decoupled_weight_decay: AdamW-style decoupled weight decay (NAdamW). Default: False.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.NAdam(model.parameters())
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check(0.0 <= momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _array_kinds(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
            state["mu_product"] = scalar_state(1.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        step = advance_step(state)
        mu_product = state["mu_product"]._data
        mu_product *= _mu(group["betas"][0], step, group["momentum_decay"])  # in the scalar dtype, as PyTorch
        return step, float(mu_product)

    def _coeffs(self, group, key):
        step, mu_product = key
        lr = to_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        bias_correction2 = 1 - beta2**step
        mu = _mu(beta1, step, group["momentum_decay"])
        mu_next = _mu(beta1, step + 1, group["momentum_decay"])
        mu_product_next = mu_product * mu_next
        c_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
        c_avg = (-lr * mu_next) / (1.0 - mu_product_next)
        return (lr, beta1, beta2, group["eps"], group["weight_decay"], group["decoupled_weight_decay"],
                group["maximize"], bias_correction2, c_grad, c_avg)

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction2, c_grad, c_avg = c
        if decoupled and weight_decay != 0:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, g, p, 0, maximize, t[0])
        else:
            g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        exp_avg, exp_avg_sq = s
        lerp_(xp, exp_avg, g, 1 - beta1, t[1])
        ema_sq_(xp, exp_avg_sq, g, beta2, t[1])
        denom = xp.divide(exp_avg_sq, bias_correction2, out=t[1])
        xp.sqrt(denom, out=denom)
        denom += eps
        upd = xp.divide(g, denom, out=t[2])
        upd *= c_grad
        p += upd
        xp.divide(exp_avg, denom, out=upd)
        upd *= c_avg
        p += upd

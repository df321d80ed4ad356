"""Adam and AdamW: one implementation, weight decay coupled (L2 added to the gradient) or decoupled."""

from lamina.optim._flat import (
    FlatOptimizer,
    advance_step,
    check,
    check_betas,
    check_fused,
    check_lr,
    effective_grad,
    ema_sq_,
    init_arrays,
    lerp_,
)
from lamina.optim.optimizer import scalar_state, to_scalar
from lamina.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(FlatOptimizer):
    """Adam (Kingma & Ba, 2015), with AMSGrad, maximisation and coupled or decoupled weight decay.

    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 1e-3.
        betas: running-average coefficients of the gradient and its square. Default: (0.9, 0.999).
        eps: added to the denominator. Default: 1e-8.
        weight_decay: L2 penalty, added to the gradient (or, with ``decoupled_weight_decay``, ``p *= 1 - lr wd``).
            Default: 0.
        amsgrad: use the maximum of all past ``v`` (AMSGrad). Default: False.
        maximize: maximise the objective instead of minimising it. Default: False.
        decoupled_weight_decay: AdamW's decoupled weight decay. Default: False.
        foreach, fused, capturable: accepted for PyTorch compatibility; lamina always runs its fused flat step.

    Example:
        >>> opt = optim.Adam(model.parameters(), lr=1e-3)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_lr(lr)
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(map(to_scalar, betas))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        check_fused(fused, foreach)

    def _array_kinds(self, group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        return advance_step(state)

    def _coeffs(self, group, step):
        lr = to_scalar(group["lr"])
        beta1, beta2 = map(to_scalar, group["betas"])
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        return (lr, beta1, beta2, group["eps"], group["weight_decay"], group["amsgrad"], group["maximize"],
                group["decoupled_weight_decay"], step_size, bias_correction2_sqrt)

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled, step_size, bc2_sqrt = c
        if decoupled and weight_decay != 0:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, g, p, 0, maximize, t[0])
        else:
            g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        exp_avg, exp_avg_sq = s[0], s[1]
        lerp_(xp, exp_avg, g, 1 - beta1, t[1])
        ema_sq_(xp, exp_avg_sq, g, beta2, t[1])
        if amsgrad:
            xp.maximum(s[2], exp_avg_sq, out=s[2])
            exp_avg_sq = s[2]
        # m / (sqrt(v) / bc2_sqrt + eps) == bc2_sqrt * m / (sqrt(v) + eps * bc2_sqrt): one pass fewer
        denom = xp.sqrt(exp_avg_sq, out=t[1])
        denom += eps * bc2_sqrt
        xp.divide(exp_avg, denom, out=denom)
        denom *= -step_size * bc2_sqrt
        p += denom


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay ``p *= 1 - lr * weight_decay``.

    Args: as ``Adam``, with ``weight_decay`` defaulting to 1e-2.

    Example:
        >>> opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

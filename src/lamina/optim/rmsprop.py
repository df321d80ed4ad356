"""RMSprop: gradients divided by a running root mean square, optionally centred and with momentum."""

from lamina.optim._flat import (
    FlatOptimizer,
    advance_step,
    check,
    check_lr,
    effective_grad,
    ema_sq_,
    init_arrays,
    lerp_,
)
from lamina.optim.optimizer import scalar_state, to_scalar

__all__ = ["RMSprop"]


class RMSprop(FlatOptimizer):
    """RMSprop (Hinton, 2012).

    v = alpha v + (1 - alpha) g^2;  a = sqrt(v - mean(g)^2 if centered else v) + eps;
    b = momentum b + g / a,  p -= lr b  (or p -= lr g / a without momentum)

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate. Default: 1e-2.
        alpha: smoothing constant. Default: 0.99.
        eps: added to the denominator. Default: 1e-8.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        momentum: momentum factor. Default: 0.
        centered: normalise by the estimated variance of the gradient. Default: False.
        maximize: maximise the objective instead of minimising it. Default: False.

    Example:
        >>> opt = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.9)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _array_kinds(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _prepare(self, group, p, layout, i):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_state(0.0)
        init_arrays(state, layout, i, self._array_kinds(group))
        return advance_step(state)

    def _coeffs(self, group, step):
        return (to_scalar(group["lr"]), group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                group["centered"], group["maximize"])

    @staticmethod
    def _kernel(xp, c, p, g, s, t):
        lr, alpha, eps, weight_decay, momentum, centered, maximize = c
        g = effective_grad(xp, g, p, weight_decay, maximize, t[0])
        square_avg = s[0]
        ema_sq_(xp, square_avg, g, alpha, t[1])
        avg = t[1]
        if centered:
            grad_avg = s[-1]
            lerp_(xp, grad_avg, g, 1 - alpha, t[1])
            xp.multiply(grad_avg, grad_avg, out=avg)
            xp.subtract(square_avg, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += eps
        xp.divide(g, avg, out=avg)
        if momentum > 0:
            buf = s[1]
            buf *= momentum
            buf += avg
            xp.multiply(buf, -lr, out=avg)
        else:
            avg *= -lr
        p += avg

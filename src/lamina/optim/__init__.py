"""``lamina.optim``: optimisers, learning-rate schedulers and regularisation helpers, with PyTorch's API.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    loss = criterion(model(x), y) + optim.l2_penalty(model, 1e-4)
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
"""

from lamina.optim import lr_scheduler
from lamina.optim.adadelta import Adadelta
from lamina.optim.adagrad import Adagrad
from lamina.optim.adam import Adam, AdamW
from lamina.optim.adamax import Adamax
from lamina.optim.nadam import NAdam
from lamina.optim.optimizer import Optimizer
from lamina.optim.radam import RAdam
from lamina.optim.regularization import apply_max_norm_, l1_penalty, l2_penalty
from lamina.optim.rmsprop import RMSprop
from lamina.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam",
           "lr_scheduler", "l1_penalty", "l2_penalty", "apply_max_norm_"]

"""Neural-network building blocks: ``Module``, ``Parameter``, the layer catalogue, losses and ``init``.

Each family lives in its own file under ``modules/``; this package re-exports them all.
"""

from lamina.nn import functional, init, utils
from lamina.nn.modules import *  # noqa: F403
from lamina.nn.modules import __all__ as _modules_all
from lamina.nn.parameter import Buffer, Parameter
from lamina.nn.summary import summary

__all__ = ["Buffer", "Parameter", "functional", "init", "summary", "utils", *_modules_all]

"""LeNet-5 (LeCun et al., 1998) sized from the input: two 5x5 convolutions with pooling, then 120-84-classes."""

from lamina import nn
from lamina.models.mlp import activation_module
from lamina.models.registry import register_model

__all__ = ["LeNet5", "lenet5"]

_POOLS = {"max": "MaxPool2d", "avg": "AvgPool2d"}


class LeNet5(nn.Module):
    """LeNet-5: Conv5x5(6) -> act -> pool2 -> Conv5x5(16) -> act -> pool2 -> Linear(120) -> act -> Linear(84) -> act
    -> Linear(num_classes).

    The first convolution pads by 2, which turns a 28x28 MNIST image into the 32x32 input of the paper. The second
    convolution is unpadded ('valid', as in the paper) when its input is at least 10x10 (so 28x28 gives the paper's
    16x5x5 features) and padded by 2 on smaller inputs (8x8 digits: 16x2x2 features). The paper's tanh and average
    pooling are ``activation="tanh", pool="avg"``; ReLU and max pooling (the defaults) train faster.

    Args:
        in_channels: input channels (1 for grey images).
        num_classes: number of classes.
        input_size: (H, W) of the input images; fixes the classifier's input size.
        activation: activation name. Default: ``"relu"``.
        pool: ``"max"`` or ``"avg"``. Default: ``"max"``.
        dropout: dropout probability before each hidden classifier layer. Default: 0.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes)

    Example:
        >>> LeNet5(1, 10, (28, 28))(lamina.randn(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=(28, 28), activation="relu", pool="max", dropout=0.0):
        super().__init__()
        if pool not in _POOLS:
            raise ValueError(f"LeNet5: pool must be 'max' or 'avg', got {pool!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"LeNet5: dropout must be in [0, 1), got {dropout}")
        self.in_channels = int(in_channels)
        self.input_size = tuple(int(s) for s in input_size)
        h, w = self.input_size
        if len(self.input_size) != 2 or h < 4 or w < 4:
            raise ValueError(f"LeNet5: input_size must be (H, W) with H, W >= 4, got {input_size}")
        pool_cls = getattr(nn, _POOLS[pool])
        h, w = h // 2, w // 2  # conv1 keeps the size (padding 2), pool1 halves it
        pad2 = 0 if min(h, w) >= 10 else 2
        h, w = (h + 2 * pad2 - 4) // 2, (w + 2 * pad2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, 6, 5, padding=2), activation_module(activation, "LeNet5"), pool_cls(2),
            nn.Conv2d(6, 16, 5, padding=pad2), activation_module(activation, "LeNet5"), pool_cls(2))
        self.num_features = 16 * h * w
        head = []
        for n_in, n_out in ((self.num_features, 120), (120, 84)):
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            head += [nn.Linear(n_in, n_out), activation_module(activation, "LeNet5")]
        head.append(nn.Linear(84, int(num_classes)))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"LeNet5: expected input of shape (N, {self.in_channels}, {self.input_size[0]}, "
                             f"{self.input_size[1]}), got {tuple(x.shape)}")
        x = self.features(x)
        return self.classifier(x.reshape(x.shape[0], self.num_features))


@register_model("lenet5")
def lenet5(input_shape=(1, 28, 28), num_classes=10, activation="relu", pool="max", dropout=0.0):
    """LeNet-5 for (C, H, W) images (28x28 MNIST as in the paper, also 8x8 digits)."""
    if len(input_shape) != 3:
        raise ValueError(f"lenet5: input_shape must be (C, H, W), got {tuple(input_shape)}")
    c, h, w = input_shape
    return LeNet5(c, num_classes, (h, w), activation, pool, dropout)

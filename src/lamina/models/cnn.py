"""A small VGG-style convolutional classifier with BatchNorm, sized from the input (8x8 digits, 28x28 MNIST...)."""

from lamina import nn
from lamina.models.mlp import activation_module
from lamina.models.registry import register_model

__all__ = ["CNN", "cnn"]


class CNN(nn.Module):
    """Stages of (Conv3x3 -> BatchNorm2d -> activation) x ``convs_per_stage`` -> MaxPool2d(2), then a classifier.

    Each stage halves the spatial size (a stage on an input smaller than 2x2 skips its pooling); the classifier
    is Dropout -> Linear(features, hidden) -> activation -> Dropout -> Linear(hidden, num_classes).

    Args:
        in_channels: input channels (1 for grey images).
        num_classes: number of classes.
        input_size: (H, W) of the input images; fixes the classifier's input size.
        channels: output channels of each stage. Default: (32, 64).
        convs_per_stage: convolutions per stage. Default: 2.
        hidden: width of the hidden classifier layer. Default: 128.
        dropout: dropout probability in the classifier. Default: 0.25.
        batchnorm: BatchNorm2d after each convolution. Default: True.
        activation: activation name. Default: ``"relu"``.

    Shape:
        input (N, in_channels, H, W) -> output (N, num_classes)
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=(8, 8), channels=(32, 64), convs_per_stage=2,
                 hidden=128, dropout=0.25, batchnorm=True, activation="relu"):
        super().__init__()
        if not channels or any(c < 1 for c in channels) or convs_per_stage < 1:
            raise ValueError(f"CNN: channels must be positive and convs_per_stage >= 1, got channels={channels}, "
                             f"convs_per_stage={convs_per_stage}")
        if not 0 <= dropout < 1:
            raise ValueError(f"CNN: dropout must be in [0, 1), got {dropout}")
        self.in_channels = int(in_channels)
        self.input_size = tuple(int(s) for s in input_size)
        h, w = self.input_size
        layers = []
        c_in = self.in_channels
        for c in channels:
            for _ in range(convs_per_stage):
                layers.append(nn.Conv2d(c_in, int(c), 3, padding=1, bias=not batchnorm))
                if batchnorm:
                    layers.append(nn.BatchNorm2d(int(c)))
                layers.append(activation_module(activation, "CNN"))
                c_in = int(c)
            if h >= 2 and w >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.num_features = c_in * h * w
        head = []
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head += [nn.Linear(self.num_features, int(hidden)), activation_module(activation, "CNN")]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(int(hidden), int(num_classes)))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"CNN: expected input of shape (N, {self.in_channels}, {self.input_size[0]}, "
                             f"{self.input_size[1]}), got {tuple(x.shape)}")
        x = self.features(x)
        return self.classifier(x.reshape(x.shape[0], self.num_features))


@register_model("cnn")
def cnn(input_shape=(1, 8, 8), num_classes=10, channels=(32, 64), convs_per_stage=2, hidden=128, dropout=0.25,
        batchnorm=True, activation="relu"):
    """A small VGG-style CNN with BatchNorm for (C, H, W) images (8x8 digits, 28x28 MNIST)."""
    if len(input_shape) != 3:
        raise ValueError(f"cnn: input_shape must be (C, H, W), got {tuple(input_shape)}")
    c, h, w = input_shape
    return CNN(c, num_classes, (h, w), tuple(channels), convs_per_stage, hidden, dropout, batchnorm, activation)

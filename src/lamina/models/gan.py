"""DCGAN (Radford et al., 2016): a transposed-convolution generator and a strided-convolution discriminator.

    from lamina.models import DCGAN
    gan = DCGAN(latent_dim=64, channels=1, image_size=28)
    d_loss = gan.discriminator_loss(real_images, gan.generator(gan.sample_latent(64)).detach())
    g_loss = gan.generator_loss(gan.generator(gan.sample_latent(64)))
    images = gan.sample(16)          # (16, 1, 28, 28) in [-1, 1]

Images are expected in [-1, 1] (the generator ends in Tanh); the discriminator returns one logit per image.
"""

import lamina
from lamina import nn
from lamina.models.registry import register_model

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "DCGAN", "dcgan"]


def _check_size(owner, image_size):
    if image_size < 4 or image_size % 4:
        raise ValueError(f"{owner}: image_size must be a positive multiple of 4 (two stride-2 stages), got "
                         f"{image_size}")


class DCGANGenerator(nn.Module):
    """Latent vector -> image: Linear to (2b, s/4, s/4), then two stride-2 ConvTranspose2d(4x4) up-samplings.

    Linear -> [BatchNorm1d] -> ReLU -> (2b, s/4, s/4) -> ConvTranspose2d(2b, b) -> [BatchNorm2d] -> ReLU
    -> ConvTranspose2d(b, channels) -> Tanh, with ``b = base_channels`` and ``s = image_size``.

    Args:
        latent_dim: size of the latent vector z. Default: 64.
        channels: image channels. Default: 1.
        image_size: height = width of the images, a multiple of 4. Default: 28.
        base_channels: channels of the last hidden stage (the first has twice as many). Default: 64.
        batchnorm: BatchNorm after the hidden layers, as in DCGAN. Default: True.

    Shape:
        input (N, latent_dim) -> output (N, channels, image_size, image_size) in [-1, 1]
    """

    def __init__(self, latent_dim=64, channels=1, image_size=28, base_channels=64, batchnorm=True):
        super().__init__()
        _check_size("DCGANGenerator", image_size)
        if min(latent_dim, channels, base_channels) < 1:
            raise ValueError(f"DCGANGenerator: sizes must be positive, got latent_dim={latent_dim}, "
                             f"channels={channels}, base_channels={base_channels}")
        self.latent_dim, self.channels, self.image_size = int(latent_dim), int(channels), int(image_size)
        b, s = int(base_channels), self.image_size // 4
        project = [nn.Linear(self.latent_dim, 2 * b * s * s, bias=not batchnorm)]
        if batchnorm:
            project.append(nn.BatchNorm1d(2 * b * s * s))
        project += [nn.ReLU(), nn.Unflatten(1, (2 * b, s, s))]
        self.project = nn.Sequential(*project)
        up = [nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1, bias=not batchnorm)]
        if batchnorm:
            up.append(nn.BatchNorm2d(b))
        up += [nn.ReLU(), nn.ConvTranspose2d(b, self.channels, 4, stride=2, padding=1), nn.Tanh()]
        self.upsample = nn.Sequential(*up)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator: expected latent vectors of shape (N, {self.latent_dim}), got "
                             f"{tuple(z.shape)}")
        return self.upsample(self.project(z))


class DCGANDiscriminator(nn.Module):
    """Image -> one real/fake logit: two stride-2 Conv2d(4x4) with LeakyReLU(0.2), then Linear.

    Conv2d(channels, b) -> LeakyReLU -> Conv2d(b, 2b) -> [BatchNorm2d] -> LeakyReLU -> Flatten -> Linear(., 1),
    with ``b = base_channels``. No sigmoid: pair it with ``BCEWithLogitsLoss``.

    Args:
        channels: image channels. Default: 1.
        image_size: height = width of the images, a multiple of 4. Default: 28.
        base_channels: channels of the first convolution. Default: 64.
        batchnorm: BatchNorm2d after the second convolution. Default: False.

    Shape:
        input (N, channels, image_size, image_size) -> output (N, 1)
    """

    def __init__(self, channels=1, image_size=28, base_channels=64, batchnorm=False):
        super().__init__()
        _check_size("DCGANDiscriminator", image_size)
        if min(channels, base_channels) < 1:
            raise ValueError(f"DCGANDiscriminator: sizes must be positive, got channels={channels}, "
                             f"base_channels={base_channels}")
        self.channels, self.image_size = int(channels), int(image_size)
        b, s = int(base_channels), self.image_size // 4
        layers = [nn.Conv2d(self.channels, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                  nn.Conv2d(b, 2 * b, 4, stride=2, padding=1, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(2 * b))
        layers += [nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * b * s * s, 1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2] != self.image_size \
                or x.shape[3] != self.image_size:
            raise ValueError(f"DCGANDiscriminator: expected images of shape (N, {self.channels}, {self.image_size}, "
                             f"{self.image_size}), got {tuple(x.shape)}")
        return self.layers(x)


class DCGAN(nn.Module):
    """A generator and a discriminator trained against each other with the non-saturating GAN loss.

    ``discriminator_loss(real, fake)`` = BCE(D(real), 1) + BCE(D(fake), 0) (``real_label`` < 1 gives one-sided
    label smoothing); ``generator_loss(fake)`` = BCE(D(fake), 1). Each is minimised by its own optimiser; pass
    ``fake.detach()`` to the discriminator loss.

    Args:
        latent_dim, channels, image_size: as in ``DCGANGenerator``.
        g_channels, d_channels: ``base_channels`` of the generator and the discriminator. Default: 64, 64.
        g_batchnorm, d_batchnorm: BatchNorm in the generator / discriminator. Default: True, False.
        real_label: the target of real images in the discriminator loss. Default: 1.0.
    """

    def __init__(self, latent_dim=64, channels=1, image_size=28, g_channels=64, d_channels=64, g_batchnorm=True,
                 d_batchnorm=False, real_label=1.0):
        super().__init__()
        if not 0 < real_label <= 1:
            raise ValueError(f"DCGAN: real_label must be in (0, 1], got {real_label}")
        self.latent_dim = int(latent_dim)
        self.real_label = float(real_label)
        self.generator = DCGANGenerator(latent_dim, channels, image_size, g_channels, g_batchnorm)
        self.discriminator = DCGANDiscriminator(channels, image_size, d_channels, d_batchnorm)
        self.criterion = nn.BCEWithLogitsLoss()

    def forward(self, z):
        return self.generator(z)

    def sample_latent(self, n, generator=None):
        """``n`` latent vectors from N(0, I)."""
        return lamina.randn(int(n), self.latent_dim, generator=generator)

    def discriminator_loss(self, real, fake):
        """BCE of the discriminator on real images (target ``real_label``) and generated ones (target 0)."""
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)
        return (self.criterion(d_real, lamina.full(d_real.shape, self.real_label))
                + self.criterion(d_fake, lamina.zeros(d_fake.shape)))

    def generator_loss(self, fake):
        """The non-saturating generator loss: BCE of the discriminator on generated images with target 1."""
        d_fake = self.discriminator(fake)
        return self.criterion(d_fake, lamina.ones(d_fake.shape))

    def sample(self, n, generator=None):
        """``n`` generated images (eval mode, no gradient), in [-1, 1]; the training mode is restored after."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            with lamina.no_grad():
                return self.generator(self.sample_latent(n, generator))
        finally:
            self.generator.train(was_training)


@register_model("dcgan")
def dcgan(latent_dim=64, channels=1, image_size=28, g_channels=64, d_channels=64, g_batchnorm=True,
          d_batchnorm=False, real_label=1.0):
    """A DCGAN (generator + discriminator) for ``channels`` x ``image_size`` x ``image_size`` images."""
    return DCGAN(latent_dim, channels, image_size, g_channels, d_channels, g_batchnorm, d_batchnorm, real_label)

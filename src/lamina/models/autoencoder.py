"""Autoencoders: a convolutional autoencoder and a variational autoencoder (Kingma & Welling, 2014).

    from lamina.models import AutoEncoder, VAE
    ae = AutoEncoder(input_shape=(1, 28, 28), latent_dim=32)
    loss = F.mse_loss(ae(x), x)                       # x in [0, 1]

    vae = VAE(input_shape=(1, 28, 28), latent_dim=2)
    loss = vae.loss(x)                                # negative ELBO per sample (nats), averaged over the batch
    vae.elbo(x)                                       # ELBO per sample, without the reparameterisation noise
    vae.sample(16)                                    # decoded draws from the prior, in [0, 1]
"""

import math

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.models.mlp import activation_module
from lamina.models.registry import register_model

__all__ = ["AutoEncoder", "VAE", "autoencoder", "vae"]

def _check_image_shape(owner, input_shape):
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"{owner}: input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
    return tuple(int(s) for s in input_shape)


def _check_input(owner, x, shape):
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        raise ValueError(f"{owner}: expected input of shape (N, {', '.join(map(str, shape))}), got {tuple(x.shape)}")


class AutoEncoder(nn.Module):
    """A convolutional autoencoder: stride-2 Conv2d encoder to a latent vector, ConvTranspose2d decoder back.

    Encoder: Conv2d(C, b, 4, 2, 1) -> act -> Conv2d(b, 2b, 4, 2, 1) -> act -> Flatten -> Linear(., latent_dim).
    Decoder: Linear(latent_dim, .) -> act -> (2b, H/4, W/4) -> ConvTranspose2d(2b, b) -> act
    -> ConvTranspose2d(b, C) -> Sigmoid, so reconstructions lie in [0, 1] like the inputs.

    Args:
        input_shape: (C, H, W) of the images, H and W multiples of 4. Default: (1, 28, 28).
        latent_dim: size of the code. Default: 32.
        base_channels: channels of the first convolution. Default: 32.
        activation: activation name. Default: ``"relu"``.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W); ``encode``: (N, latent_dim)
    """

    def __init__(self, input_shape=(1, 28, 28), latent_dim=32, base_channels=32, activation="relu"):
        super().__init__()
        self.input_shape = _check_image_shape("AutoEncoder", input_shape)
        c, h, w = self.input_shape
        if h % 4 or w % 4:
            raise ValueError(f"AutoEncoder: H and W must be multiples of 4 (two stride-2 stages), got {(h, w)}")
        if latent_dim < 1 or base_channels < 1:
            raise ValueError(f"AutoEncoder: latent_dim and base_channels must be positive, got {latent_dim}, "
                             f"{base_channels}")
        self.latent_dim, b = int(latent_dim), int(base_channels)
        flat = 2 * b * (h // 4) * (w // 4)

        def act():
            return activation_module(activation, "AutoEncoder")

        self.encoder = nn.Sequential(
            nn.Conv2d(c, b, 4, stride=2, padding=1), act(), nn.Conv2d(b, 2 * b, 4, stride=2, padding=1), act(),
            nn.Flatten(), nn.Linear(flat, self.latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, flat), act(), nn.Unflatten(1, (2 * b, h // 4, w // 4)),
            nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1), act(),
            nn.ConvTranspose2d(b, c, 4, stride=2, padding=1), nn.Sigmoid())

    def encode(self, x):
        _check_input("AutoEncoder", x, self.input_shape)
        return self.encoder(x)

    def decode(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"AutoEncoder: expected codes of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


@register_model("autoencoder")
def autoencoder(input_shape=(1, 28, 28), latent_dim=32, base_channels=32, activation="relu"):
    """A convolutional autoencoder for (C, H, W) images in [0, 1]."""
    return AutoEncoder(input_shape, latent_dim, base_channels, activation)


class VAE(nn.Module):
    """A variational autoencoder with a Gaussian encoder q(z|x), a N(0, I) prior and a Bernoulli decoder p(x|z).

    Encoder: Flatten -> (Linear -> act) per hidden size -> two heads, the mean and the log-variance of q(z|x).
    Decoder: the mirror image, ending in one logit per pixel. The objective (to maximise) is the ELBO

        ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),
        log p(x|z) = -sum_pixels BCE(logits(z), x),   KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)),

    estimated with one reparameterised sample ``z = mu + exp(logvar / 2) * eps``.

    Args:
        input_shape: (C, H, W) of the images (pixels in [0, 1]). Default: (1, 28, 28).
        latent_dim: size of z. Default: 2.
        hidden: hidden sizes of the encoder (the decoder uses them reversed). Default: (512, 256).
        activation: activation name. Default: ``"relu"``.

    Shape:
        input (N, C, H, W) -> output (reconstruction logits (N, C, H, W), mu (N, latent_dim), logvar (N, latent_dim))
    """

    def __init__(self, input_shape=(1, 28, 28), latent_dim=2, hidden=(512, 256), activation="relu"):
        super().__init__()
        self.input_shape = _check_image_shape("VAE", input_shape)
        if latent_dim < 1 or not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"VAE: latent_dim and hidden sizes must be positive, got latent_dim={latent_dim}, "
                             f"hidden={list(hidden)}")
        self.latent_dim = int(latent_dim)
        self.in_features = math.prod(self.input_shape)
        enc, width = [nn.Flatten()], self.in_features
        for h in hidden:
            enc += [nn.Linear(width, int(h)), activation_module(activation, "VAE")]
            width = int(h)
        self.encoder = nn.Sequential(*enc)
        self.fc_mu = nn.Linear(width, self.latent_dim)
        self.fc_logvar = nn.Linear(width, self.latent_dim)
        dec, width = [], self.latent_dim
        for h in reversed(hidden):
            dec += [nn.Linear(width, int(h)), activation_module(activation, "VAE")]
            width = int(h)
        dec += [nn.Linear(width, self.in_features), nn.Unflatten(1, self.input_shape)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        """The mean and log-variance of q(z|x)."""
        _check_input("VAE", x, self.input_shape)
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        """Pixel logits of p(x|z); ``sigmoid`` of them is the mean image."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"VAE: expected latent vectors of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def reparameterize(self, mu, logvar, generator=None):
        """``mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``, differentiable in ``mu`` and ``logvar``."""
        return mu + (0.5 * logvar).exp() * lamina.randn(mu.shape, generator=generator, dtype=mu.dtype)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def loss_terms(self, x, sample=True, generator=None):
        """Per-sample reconstruction term ``-log p(x|z)`` and ``KL(q(z|x) || p(z))``, both (N,) in nats.

        ``sample=False`` decodes the posterior mean instead of a reparameterised draw (a deterministic estimate).
        """
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if sample else mu
        logits = self.decode(z)
        n = x.shape[0]
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").reshape(n, -1).sum(dim=1)
        kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(dim=1)
        return recon, kl

    def loss(self, x, beta=1.0):
        """The training loss: the negative ELBO (with the KL term weighted by ``beta``) averaged over the batch."""
        recon, kl = self.loss_terms(x)
        return (recon + beta * kl).mean()

    def elbo(self, x, sample=False, generator=None):
        """The ELBO of each image, (N,) in nats (higher is better); no gradient."""
        with lamina.no_grad():
            recon, kl = self.loss_terms(x, sample=sample, generator=generator)
            return -(recon + kl)

    def reconstruct(self, x):
        """Mean reconstructions ``sigmoid(decode(mu(x)))`` in [0, 1]; no gradient."""
        with lamina.no_grad():
            return self.decode(self.encode(x)[0]).sigmoid()

    def sample(self, n, generator=None):
        """``n`` mean images decoded from prior draws ``z ~ N(0, I)``, in [0, 1]; no gradient."""
        with lamina.no_grad():
            return self.decode(lamina.randn(int(n), self.latent_dim, generator=generator)).sigmoid()


@register_model("vae")
def vae(input_shape=(1, 28, 28), latent_dim=2, hidden=(512, 256), activation="relu"):
    """A variational autoencoder (MLP encoder/decoder, Bernoulli pixels) for (C, H, W) images in [0, 1]."""
    return VAE(input_shape, latent_dim, tuple(hidden), activation)

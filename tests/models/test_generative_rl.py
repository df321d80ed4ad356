"""DCGAN, AutoEncoder, VAE and the DQN pieces: shapes, errors, the losses' formulas (VAE against PyTorch),
the replay buffer, target-network updates and the (Double) DQN target."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina.models import (
    DCGAN,
    VAE,
    AutoEncoder,
    DCGANDiscriminator,
    DCGANGenerator,
    DQNAgent,
    QNetwork,
    ReplayBuffer,
    evaluate_policy,
    get_model,
    list_models,
)


def test_registered():
    assert {"dcgan", "autoencoder", "vae", "qnetwork"} <= set(list_models())
    assert isinstance(get_model("dcgan", image_size=8, g_channels=4, d_channels=4), DCGAN)
    assert isinstance(get_model("autoencoder", input_shape=(1, 8, 8)), AutoEncoder)
    assert isinstance(get_model("vae", input_shape=(1, 8, 8), hidden=[8]), VAE)
    assert isinstance(get_model("qnetwork", obs_dim=3, n_actions=5), QNetwork)


@pytest.mark.parametrize("size", [8, 28])
def test_dcgan_shapes_and_gradients(size):
    lamina.manual_seed(0)
    gan = DCGAN(latent_dim=6, image_size=size, g_channels=4, d_channels=4)
    fake = gan.generator(gan.sample_latent(5))
    assert fake.shape == (5, 1, size, size)
    assert float(fake.abs().max()) <= 1.0  # Tanh output
    assert gan.discriminator(fake).shape == (5, 1)
    real = lamina.rand(5, 1, size, size) * 2 - 1
    d_loss = gan.discriminator_loss(real, fake.detach())
    d_loss.backward()
    assert all(p.grad is not None for p in gan.discriminator.parameters())
    assert all(p.grad is None for p in gan.generator.parameters())  # detached fakes: no generator gradient
    gan.zero_grad()
    gan.generator_loss(fake).backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in gan.generator.parameters())
    assert gan.sample(3).shape == (3, 1, size, size)
    assert gan.generator.training  # sample() restores the mode


def test_dcgan_losses_are_binary_cross_entropy():
    lamina.manual_seed(1)
    gan = DCGAN(latent_dim=4, image_size=8, g_channels=2, d_channels=2, real_label=0.9)
    real, fake = lamina.rand(4, 1, 8, 8), lamina.rand(4, 1, 8, 8)
    with lamina.no_grad():
        lr, lf = gan.discriminator(real).numpy().ravel(), gan.discriminator(fake).numpy().ravel()

    def bce(logit, target):
        p = 1 / (1 + np.exp(-logit.astype(np.float64)))
        return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))

    assert float(gan.discriminator_loss(real, fake)) == pytest.approx(bce(lr, 0.9) + bce(lf, 0.0), rel=1e-5)
    assert float(gan.generator_loss(fake)) == pytest.approx(bce(lf, 1.0), rel=1e-5)


def test_dcgan_errors():
    with pytest.raises(ValueError, match=r"DCGANGenerator: image_size must be a positive multiple of 4 \(two "
                                         r"stride-2 stages\), got 10"):
        DCGANGenerator(image_size=10)
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected latent vectors of shape \(N, 8\), got \(2, 3\)"):
        DCGANGenerator(latent_dim=8, image_size=8, base_channels=2)(lamina.randn(2, 3))
    with pytest.raises(ValueError, match=r"DCGANDiscriminator: expected images of shape \(N, 1, 8, 8\), got"):
        DCGANDiscriminator(image_size=8, base_channels=2)(lamina.randn(2, 1, 7, 8))
    with pytest.raises(ValueError, match="real_label must be in"):
        DCGAN(real_label=0)


def test_autoencoder_shapes_and_errors():
    ae = AutoEncoder((1, 8, 8), latent_dim=3, base_channels=4)
    x = lamina.rand(2, 1, 8, 8)
    assert ae.encode(x).shape == (2, 3)
    y = ae(x)
    assert y.shape == (2, 1, 8, 8) and 0 <= float(y.min()) and float(y.max()) <= 1
    F.mse_loss(y, x).backward()
    assert all(p.grad is not None for p in ae.parameters())
    with pytest.raises(ValueError, match=r"AutoEncoder: expected input of shape \(N, 1, 8, 8\), got \(2, 1, 4, 4\)"):
        ae(lamina.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="multiples of 4"):
        AutoEncoder((1, 10, 10))


def test_vae_loss_matches_torch():
    torch = pytest.importorskip("torch")
    lamina.manual_seed(2)
    vae = VAE((1, 4, 4), latent_dim=2, hidden=(5,))
    vae.double()
    x_np = np.random.default_rng(0).random((3, 1, 4, 4))
    eps_np = lamina.randn(3, 2, generator=lamina.Generator().manual_seed(7), dtype=lamina.float64).numpy()
    w = {k: torch.tensor(v.numpy()) for k, v in vae.state_dict().items()}

    def torch_terms(x):
        h = torch.relu(x.reshape(3, -1) @ w["encoder.1.weight"].T + w["encoder.1.bias"])
        mu = h @ w["fc_mu.weight"].T + w["fc_mu.bias"]
        logvar = h @ w["fc_logvar.weight"].T + w["fc_logvar.bias"]
        z = mu + torch.exp(0.5 * logvar) * torch.tensor(eps_np)
        h = torch.relu(z @ w["decoder.0.weight"].T + w["decoder.0.bias"])
        logits = h @ w["decoder.2.weight"].T + w["decoder.2.bias"]
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x.reshape(3, -1), reduction="none")
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
        return recon.sum(1), kl

    recon_ref, kl_ref = torch_terms(torch.tensor(x_np))

    x = lamina.tensor(x_np)
    recon, kl = vae.loss_terms(x, generator=lamina.Generator().manual_seed(7))  # the same noise as eps_np
    np.testing.assert_allclose(recon.detach().numpy(), recon_ref.numpy(), rtol=1e-10)
    np.testing.assert_allclose(kl.detach().numpy(), kl_ref.numpy(), rtol=1e-10)
    lamina.manual_seed(11)
    loss = vae.loss(x, beta=0.5)
    lamina.manual_seed(11)
    recon, kl = vae.loss_terms(x)
    assert loss.dtype == lamina.float64
    assert float(loss) == pytest.approx(float((recon + 0.5 * kl).mean()), rel=1e-12)
    # the ELBO of the posterior mean decodes mu, and equals -(recon + kl) of that decoding
    recon_mu, kl_mu = vae.loss_terms(x, sample=False)
    np.testing.assert_allclose(vae.elbo(x).numpy(), -(recon_mu + kl_mu).detach().numpy())


def test_vae_sampling_and_gradients():
    lamina.manual_seed(3)
    vae = VAE((1, 8, 8), latent_dim=3, hidden=(16, 8))
    x = lamina.rand(4, 1, 8, 8)
    logits, mu, logvar = vae(x)
    assert logits.shape == (4, 1, 8, 8) and mu.shape == logvar.shape == (4, 3)
    loss = vae.loss(x)
    loss.backward()
    assert all(p.grad is not None for p in vae.parameters())
    # a seeded generator makes the Monte-Carlo ELBO reproducible
    e1 = vae.elbo(x, sample=True, generator=lamina.Generator().manual_seed(5))
    e2 = vae.elbo(x, sample=True, generator=lamina.Generator().manual_seed(5))
    np.testing.assert_array_equal(e1.numpy(), e2.numpy())
    s = vae.sample(6)
    assert s.shape == (6, 1, 8, 8) and 0 <= float(s.min()) and float(s.max()) <= 1
    assert vae.reconstruct(x).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match=r"VAE: expected latent vectors of shape \(N, 3\), got \(2, 2\)"):
        vae.decode(lamina.randn(2, 2))


def test_replay_buffer_ring_and_sampling():
    buf = ReplayBuffer(5, 2, seed=0)
    with pytest.raises(ValueError, match="ReplayBuffer.sample: the buffer is empty"):
        buf.sample(1)
    for i in range(7):  # 7 pushes into 5 slots: transitions 2..6 remain
        buf.push([i, -i], i % 2, float(i), [i + 0.5, -i], i == 6)
    assert len(buf) == 5
    assert sorted(buf.rewards.tolist()) == [2, 3, 4, 5, 6]
    obs, action, reward, next_obs, done = buf.sample(200)
    assert obs.shape == next_obs.shape == (200, 2) and action.shape == reward.shape == done.shape == (200,)
    assert obs.dtype == lamina.float32 and action.dtype == lamina.int64 and done.dtype == lamina.float32
    o, a, r, n, d = (t.numpy() for t in (obs, action, reward, next_obs, done))
    np.testing.assert_array_equal(o[:, 0], r)  # every sampled row is one stored transition
    np.testing.assert_array_equal(n[:, 0], r + 0.5)
    np.testing.assert_array_equal(a, r.astype(np.int64) % 2)
    np.testing.assert_array_equal(d, (r == 6).astype(np.float32))
    assert set(r.tolist()) == {2, 3, 4, 5, 6}  # uniform over what is stored
    with pytest.raises(ValueError, match=r"ReplayBuffer.push: expected observations of shape \(2,\), got \(3,\)"):
        buf.push([1, 2, 3], 0, 0.0, [1, 2, 3], False)
    with pytest.raises(ValueError, match="capacity must be positive"):
        ReplayBuffer(0, 2)


def _params(m):
    return [p.detach().numpy().copy() for p in m.parameters()]


def test_target_network_updates():
    agent = DQNAgent(3, 2, hidden=(8,), learning_starts=0, target_update=3, batch_size=4, seed=0)
    assert all(not p.requires_grad for p in agent.target.parameters())
    for a, b in zip(_params(agent.q), _params(agent.target)):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    for _ in range(10):
        agent.buffer.push(rng.standard_normal(3), rng.integers(2), 1.0, rng.standard_normal(3), False)
    before = _params(agent.target)
    agent.update()
    agent.update()  # two updates: the target has not moved yet
    for a, b in zip(before, _params(agent.target)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(_params(agent.q), before))
    agent.update()  # the third update copies the online weights
    for a, b in zip(_params(agent.q), _params(agent.target)):
        np.testing.assert_array_equal(a, b)
    # soft update: target <- tau q + (1 - tau) target
    agent.update()
    q, t = _params(agent.q), _params(agent.target)
    agent.update_target(0.25)
    for qa, ta, new in zip(q, t, _params(agent.target)):
        np.testing.assert_allclose(new, 0.25 * qa + 0.75 * ta, rtol=1e-6, atol=1e-7)
    soft = DQNAgent(3, 2, hidden=(8,), learning_starts=0, tau=0.5, batch_size=4, seed=0)
    soft.buffer = agent.buffer
    t0 = _params(soft.target)
    soft.update()  # Polyak averaging after every update
    for qa, ta, new in zip(_params(soft.q), t0, _params(soft.target)):
        np.testing.assert_allclose(new, 0.5 * qa + 0.5 * ta, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("double", [False, True])
def test_td_target(double):
    agent = DQNAgent(2, 3, hidden=(6,), gamma=0.9, double=double, seed=1)
    with lamina.no_grad():  # make online and target networks differ
        for p in agent.target.parameters():
            p.add_(lamina.randn(p.shape) * 0.5)
    nxt = lamina.randn(5, 2)
    reward = lamina.tensor([1.0, 0.0, -1.0, 2.0, 0.5])
    done = lamina.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    with lamina.no_grad():
        q_online, q_target = agent.q(nxt).numpy(), agent.target(nxt).numpy()
    a = q_online.argmax(1) if double else q_target.argmax(1)
    expected = reward.numpy() + 0.9 * (1 - done.numpy()) * q_target[np.arange(5), a]
    np.testing.assert_allclose(agent.td_target(reward, nxt, done).numpy(), expected, rtol=1e-6)


def test_epsilon_greedy_and_learning():
    agent = DQNAgent(2, 2, hidden=(16,), eps_start=1.0, eps_end=0.1, eps_decay_steps=100, learning_starts=0,
                     batch_size=16, lr=1e-2, gamma=0.0, seed=0)
    assert agent.epsilon(0) == 1.0 and agent.epsilon(50) == pytest.approx(0.55)
    assert agent.epsilon(1000) == pytest.approx(0.1)
    obs = np.array([0.3, -0.2], dtype=np.float32)
    with lamina.no_grad():
        greedy = int(agent.q(lamina.from_numpy(obs[None])).numpy().argmax())
    assert all(agent.act(obs, epsilon=0.0) == greedy for _ in range(5))
    assert {agent.act(obs, epsilon=1.0) for _ in range(60)} == {0, 1}
    # gamma = 0: the Q-values regress onto the rewards (action 1 pays 1, action 0 pays 0), so the loss falls
    rng = np.random.default_rng(0)
    for _ in range(64):
        a = int(rng.integers(2))
        agent.buffer.push(rng.standard_normal(2), a, float(a), rng.standard_normal(2), False)
    losses = [agent.update() for _ in range(150)]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-10:]) < 0.1 * np.mean(losses[:10])
    assert agent.act(obs, epsilon=0.0) == 1


class _Corridor:
    """A tiny Gymnasium-style environment: action 1 moves right, reward 1 per step, 5 steps then truncation."""

    def reset(self, seed=None):
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t, action], dtype=np.float32), 1.0, False, self.t >= 5, {}


def test_evaluate_policy_runs_episodes():
    agent = DQNAgent(2, 2, hidden=(4,), seed=0)
    assert evaluate_policy(_Corridor(), agent, episodes=3) == [5.0, 5.0, 5.0]

"""Deep Q-learning (Mnih et al., 2015): a Q-network, an experience-replay buffer and an agent with a target
network, epsilon-greedy exploration and optional Double DQN targets (van Hasselt et al., 2016).

The agent works with any environment that follows the Gymnasium API (``reset(seed=...) -> (obs, info)``,
``step(action) -> (obs, reward, terminated, truncated, info)``) and has a discrete action space; lamina itself
does not import Gymnasium.

    from lamina.models import DQNAgent, train_dqn, evaluate_policy
    agent = DQNAgent(obs_dim=4, n_actions=2, double=True, seed=0)
    train_dqn(gymnasium.make("CartPole-v1"), agent, total_steps=50_000)
    evaluate_policy(gymnasium.make("CartPole-v1"), agent, episodes=100)   # returns of the greedy policy
"""

import math

import numpy as np

import lamina
from lamina import nn, optim
from lamina.models.mlp import activation_module
from lamina.models.registry import register_model

__all__ = ["QNetwork", "ReplayBuffer", "DQNAgent", "train_dqn", "evaluate_policy", "qnetwork"]


class QNetwork(nn.Module):
    """An MLP that maps an observation to one action value per discrete action.

    Args:
        obs_dim: size of the (flat) observation.
        n_actions: number of discrete actions.
        hidden: sizes of the hidden layers. Default: (128, 128).
        activation: activation name. Default: ``"relu"``.

    Shape:
        input (N, obs_dim) -> output (N, n_actions)

    Example:
        >>> QNetwork(4, 2)(lamina.randn(5, 4)).shape
        (5, 2)
    """

    def __init__(self, obs_dim, n_actions, hidden=(128, 128), activation="relu"):
        super().__init__()
        if obs_dim < 1 or n_actions < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"QNetwork: sizes must be positive, got obs_dim={obs_dim}, n_actions={n_actions}, "
                             f"hidden={list(hidden)}")
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        layers, width = [], self.obs_dim
        for h in hidden:
            layers += [nn.Linear(width, int(h)), activation_module(activation, "QNetwork")]
            width = int(h)
        layers.append(nn.Linear(width, self.n_actions))
        self.layers = nn.Sequential(*layers)

    def forward(self, obs):
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"QNetwork: expected observations of shape (N, {self.obs_dim}), got {tuple(obs.shape)}")
        return self.layers(obs)


@register_model("qnetwork")
def qnetwork(obs_dim=4, n_actions=2, hidden=(128, 128), activation="relu"):
    """A Q-network (MLP from observation to action values), e.g. for CartPole: ``obs_dim=4, n_actions=2``."""
    return QNetwork(obs_dim, n_actions, tuple(hidden), activation)


class ReplayBuffer:
    """A fixed-size ring buffer of transitions ``(obs, action, reward, next_obs, done)`` sampled uniformly.

    Stored as preallocated float32/int64 NumPy arrays; once full, the oldest transition is overwritten.
    ``done`` marks a true terminal state (no bootstrapping from ``next_obs``); a time-limit truncation is not
    terminal and should be stored with ``done=False``.

    Args:
        capacity: most transitions kept.
        obs_shape: shape of one observation (an int for flat observations).
        seed: seed of the sampling generator. Default: None (fresh entropy).

    Example:
        >>> buf = ReplayBuffer(10_000, 4, seed=0)
        >>> buf.push(obs, 1, 1.0, next_obs, False)
        >>> obs, action, reward, next_obs, done = buf.sample(64)   # lamina tensors
    """

    def __init__(self, capacity, obs_shape, seed=None):
        if int(capacity) < 1:
            raise ValueError(f"ReplayBuffer: capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.obs_shape = (int(obs_shape),) if np.isscalar(obs_shape) else tuple(int(s) for s in obs_shape)
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self._pos = 0
        self._size = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return self._size

    def push(self, obs, action, reward, next_obs, done):
        """Store one transition (overwriting the oldest once the buffer is full)."""
        obs, next_obs = np.asarray(obs, dtype=np.float32), np.asarray(next_obs, dtype=np.float32)
        if obs.shape != self.obs_shape or next_obs.shape != self.obs_shape:
            raise ValueError(f"ReplayBuffer.push: expected observations of shape {self.obs_shape}, got "
                             f"{obs.shape} and {next_obs.shape}")
        i = self._pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.actions[i], self.rewards[i], self.dones[i] = int(action), float(reward), float(bool(done))
        self._pos = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size):
        """``batch_size`` transitions drawn uniformly with replacement, as lamina tensors
        ``(obs (B, *obs_shape) float32, action (B,) int64, reward (B,) float32, next_obs, done (B,) float32)``."""
        if self._size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; push transitions first")
        idx = self._rng.integers(0, self._size, size=int(batch_size))
        return tuple(lamina.from_numpy(a[idx]) for a in (self.obs, self.actions, self.rewards, self.next_obs,
                                                          self.dones))


class DQNAgent:
    """A DQN agent: online and target Q-networks, replay buffer, epsilon-greedy acting, (Double) DQN updates.

    The TD target is ``r + gamma (1 - done) Q_target(s', a*)`` with ``a* = argmax_a Q_target(s', a)`` (DQN) or
    ``a* = argmax_a Q_online(s', a)`` (Double DQN); the loss between it and ``Q_online(s, a)`` is the Huber
    (SmoothL1) loss by default. The target network is copied from the online one every ``target_update``
    updates (``tau=1``) or moved towards it by ``tau`` after each update (Polyak averaging, ``tau < 1``).

    Args:
        obs_dim: size of the observation; n_actions: number of discrete actions.
        hidden: hidden sizes of the Q-network. Default: (128, 128).
        lr: Adam learning rate. Default: 5e-4.
        gamma: discount. Default: 0.99.
        batch_size: transitions per update. Default: 64.
        buffer_size: replay capacity. Default: 50,000.
        learning_starts: environment steps before the first update. Default: 1,000.
        train_freq: environment steps per update. Default: 1.
        target_update: updates between hard target copies (used when ``tau == 1``). Default: 500.
        tau: soft-update rate of the target network; 1 means hard copies. Default: 1.0.
        double: Double DQN targets. Default: True.
        eps_start, eps_end, eps_decay_steps: epsilon decays linearly from ``eps_start`` to ``eps_end`` over
            ``eps_decay_steps`` environment steps. Defaults: 1.0, 0.02, 10,000.
        loss: ``"huber"`` (SmoothL1Loss) or ``"mse"``. Default: ``"huber"``.
        max_grad_norm: gradient-norm clip per update (None: no clipping). Default: 10.
        seed: seeds the networks' initialisation, the buffer's sampling and the exploration. Default: None.
    """

    def __init__(self, obs_dim, n_actions, hidden=(128, 128), lr=5e-4, gamma=0.99, batch_size=64,
                 buffer_size=50_000, learning_starts=1_000, train_freq=1, target_update=500, tau=1.0, double=True,
                 eps_start=1.0, eps_end=0.02, eps_decay_steps=10_000, loss="huber", max_grad_norm=10.0, seed=None):
        if not 0 <= gamma <= 1:
            raise ValueError(f"DQNAgent: gamma must be in [0, 1], got {gamma}")
        if not 0 < tau <= 1:
            raise ValueError(f"DQNAgent: tau must be in (0, 1], got {tau}")
        if not (0 <= eps_end <= 1 and 0 <= eps_start <= 1):
            raise ValueError(f"DQNAgent: epsilons must be in [0, 1], got eps_start={eps_start}, eps_end={eps_end}")
        losses = {"huber": nn.SmoothL1Loss, "mse": nn.MSELoss}
        if loss not in losses:
            raise ValueError(f"DQNAgent: loss must be 'huber' or 'mse', got {loss!r}")
        if min(batch_size, train_freq, target_update) < 1:
            raise ValueError(f"DQNAgent: batch_size, train_freq and target_update must be >= 1, got {batch_size}, "
                             f"{train_freq}, {target_update}")
        self.n_actions = int(n_actions)
        self.gamma, self.batch_size, self.learning_starts = float(gamma), int(batch_size), int(learning_starts)
        self.train_freq, self.target_update, self.tau, self.double = int(train_freq), int(target_update), tau, double
        self.eps_start, self.eps_end, self.eps_decay_steps = eps_start, eps_end, max(1, int(eps_decay_steps))
        self.max_grad_norm = max_grad_norm
        if seed is not None:
            lamina.manual_seed(seed)
        self.q = QNetwork(obs_dim, n_actions, hidden)
        self.target = QNetwork(obs_dim, n_actions, hidden)
        self.target.load_state_dict(self.q.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = optim.Adam(self.q.parameters(), lr=lr)
        self.loss_fn = losses[loss]()
        self.buffer = ReplayBuffer(buffer_size, obs_dim, seed=seed)
        self._rng = np.random.default_rng(None if seed is None else seed + 1)
        self.steps = 0
        self.updates = 0

    def epsilon(self, step=None):
        """The exploration rate after ``step`` environment steps (default: the agent's own count)."""
        frac = min(1.0, (self.steps if step is None else step) / self.eps_decay_steps)
        return self.eps_start + frac * (self.eps_end - self.eps_start)

    def act(self, obs, epsilon=None):
        """An epsilon-greedy action for one observation (``epsilon=0``: greedy)."""
        eps = self.epsilon() if epsilon is None else epsilon
        if eps > 0 and self._rng.random() < eps:
            return int(self._rng.integers(self.n_actions))
        with lamina.no_grad():
            q = self.q(lamina.from_numpy(np.asarray(obs, dtype=np.float32).reshape(1, -1)))
        return int(q._data[0].argmax())

    def observe(self, obs, action, reward, next_obs, terminated):
        """Record one environment step; runs an update when due and returns its TD loss (else None)."""
        self.buffer.push(obs, action, reward, next_obs, terminated)
        self.steps += 1
        if self.steps >= self.learning_starts and self.steps % self.train_freq == 0 and len(self.buffer) > 0:
            return self.update()
        return None

    def td_target(self, reward, next_obs, done):
        """``r + gamma (1 - done) Q_target(s', a*)`` for a batch, without gradient."""
        with lamina.no_grad():
            next_target = self.target(next_obs)
            if self.double:
                best = self.q(next_obs).argmax(dim=1, keepdim=True)
                next_value = next_target.gather(1, best).squeeze(1)
            else:
                next_value = next_target.max(dim=1).values
            return reward + self.gamma * (1.0 - done) * next_value

    def update(self):
        """One gradient step on a sampled batch; returns the TD loss as a float."""
        obs, action, reward, next_obs, done = self.buffer.sample(self.batch_size)
        target = self.td_target(reward, next_obs, done)
        q_taken = self.q(obs).gather(1, action.unsqueeze(1)).squeeze(1)
        loss = self.loss_fn(q_taken, target)
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.q.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.tau < 1:
            self.update_target(self.tau)
        elif self.updates % self.target_update == 0:
            self.update_target()
        return float(loss)

    def update_target(self, tau=1.0):
        """Move the target network towards the online one: ``target = tau online + (1 - tau) target``."""
        with lamina.no_grad():
            for t, p in zip(self.target.parameters(), self.q.parameters()):
                if tau >= 1:
                    t.copy_(p)
                else:
                    t.mul_(1.0 - tau).add_(p, alpha=tau)


def train_dqn(env, agent, total_steps, seed=None, eval_env=None, eval_every=0, eval_episodes=10, stop_return=None,
              log=None):
    """Train ``agent`` on ``env`` for ``total_steps`` environment steps.

    Terminations end an episode without bootstrapping; truncations (time limits) end it but keep bootstrapping.
    With ``eval_env`` and ``eval_every`` > 0, the greedy policy is evaluated over ``eval_episodes`` episodes every
    ``eval_every`` steps; the best-scoring online weights are restored into the agent at the end, and training
    stops early once the evaluation mean reaches ``stop_return``.

    Returns:
        dict with ``episode_returns`` (list), ``losses`` (list of TD losses), ``evaluations`` (list of
        ``(step, mean_return)``), ``steps`` (environment steps taken).
    """
    obs, _ = env.reset(seed=seed)
    returns, losses, evaluations = [], [], []
    ep_return, best, best_state = 0.0, -math.inf, None
    step = 0
    for step in range(1, int(total_steps) + 1):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        loss = agent.observe(obs, action, reward, next_obs, terminated)
        if loss is not None:
            losses.append(loss)
        ep_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            returns.append(ep_return)
            ep_return = 0.0
            obs, _ = env.reset()
        if eval_env is not None and eval_every > 0 and step % eval_every == 0:
            score = float(np.mean(evaluate_policy(eval_env, agent, eval_episodes)))
            evaluations.append((step, score))
            if log is not None:
                recent = np.mean(returns[-20:]) if returns else float("nan")
                log(f"step {step:6d}  episodes {len(returns):4d}  train return (last 20) {recent:6.1f}  "
                    f"eps {agent.epsilon():.3f}  greedy eval {score:6.1f}")
            if score > best:
                best = score
                best_state = {k: v.clone() for k, v in agent.q.state_dict().items()}
            if stop_return is not None and score >= stop_return:
                break
    if best_state is not None:
        agent.q.load_state_dict(best_state)
        agent.update_target()
    return {"episode_returns": returns, "losses": losses, "evaluations": evaluations, "steps": step}


def evaluate_policy(env, agent, episodes=100, seed=None):
    """Returns of ``episodes`` episodes of the greedy policy (``epsilon = 0``), as a list of floats."""
    returns = []
    for i in range(int(episodes)):
        obs, _ = env.reset(seed=None if seed is None else seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, epsilon=0.0))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns

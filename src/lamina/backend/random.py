"""Seeded random generators: the same seed gives the same numbers on every run and machine.

Each ``Generator`` wraps NumPy's PCG64 bit generator, whose stream is defined
bit-for-bit independently of platform.  The default generator is what
``lamina.manual_seed`` seeds and what the creation functions use when no
``generator=`` is given.
"""

import json

import numpy as np

_DEFAULT_SEED = 67280421310721  # PyTorch's default_rng_seed_val


class Generator:
    """A source of random numbers; ``Generator().manual_seed(0)`` gives a reproducible stream.

    Example:
        >>> g = lamina.Generator().manual_seed(0)
        >>> lamina.rand(2, generator=g)
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = _DEFAULT_SEED
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed &= 0xFFFF_FFFF_FFFF_FFFF
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        """Re-seed from the operating system's entropy and return the new seed."""
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (JSON bytes), restorable with ``set_state``."""
        from lamina.creation import tensor

        payload = json.dumps({"seed": self._seed, "state": self._rng.bit_generator.state}).encode()
        return tensor(np.frombuffer(payload, dtype=np.uint8).copy())

    def set_state(self, state):
        raw = state.numpy() if hasattr(state, "numpy") else np.asarray(state)
        try:
            payload = json.loads(bytes(np.asarray(raw, dtype=np.uint8)).decode())
            bit_state = payload["state"]
            bg = np.random.PCG64()
            bg.state = bit_state
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(f"Generator.set_state: not a lamina generator state ({e})") from None
        self._seed = int(payload["seed"])
        self._rng = np.random.Generator(bg)
        return self

    @property
    def np(self):
        """The underlying ``numpy.random.Generator``."""
        return self._rng


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator; returns it (as ``torch.manual_seed`` does)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _rng(generator):
    return (generator or default_generator)._rng

"""Training checkpoints: a run stopped at an epoch boundary and resumed ends bit-identical to one that never
stopped (shuffling, dropout, NumPy-random augmentation, BatchNorm, Adam state, LR schedule, early-stopping state)."""

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.training import EarlyStopping, ModelCheckpoint, Trainer, read_checkpoint
from lamina.utils.data import DataLoader, Dataset
from tests.training import helpers as H


class NoisyBlobs(Dataset):
    """Augments each sample with noise from NumPy's global generator (as many user transforms do)."""

    def __init__(self, n=80):
        self.x, self.y = H.blobs(n)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        noise = np.random.normal(0, 0.1, self.x[i].shape).astype(np.float32)
        return lamina.tensor(self.x[i] + noise), int(self.y[i])


def _run(tmp_path, epochs, resume_from=None, own_generator=True, tag="run"):
    # a different state everywhere before building: resuming must not depend on it
    lamina.manual_seed(0 if resume_from is None else 999)
    np.random.seed(0 if resume_from is None else 999)
    model = H.model(dropout=0.3, batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)
    gen = lamina.Generator().manual_seed(5 if resume_from is None else 77) if own_generator else None
    train = DataLoader(NoisyBlobs(), batch_size=16, shuffle=True, generator=gen)
    val = DataLoader(NoisyBlobs(40), batch_size=16)
    ckpt = ModelCheckpoint(tmp_path / tag / "epoch{epoch}.safetensors")
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=False)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"], scheduler=sched,
                      callbacks=[ckpt, es])
    trainer.fit(train, val, epochs=epochs, resume_from=resume_from, verbose=0)
    return trainer


def _state_bytes(trainer):
    out = {f"model/{k}": v.numpy().tobytes() for k, v in trainer.model.state_dict().items()}
    for i, s in trainer.optimizer.state_dict()["state"].items():
        for k, v in s.items():
            out[f"opt/{i}/{k}"] = v.numpy().tobytes() if isinstance(v, lamina.Tensor) else repr(v).encode()
    return out


@pytest.mark.parametrize("own_generator", [True, False])
def test_resume_is_bit_identical(tmp_path, own_generator):
    full = _run(tmp_path, 4, own_generator=own_generator, tag="full")
    rng_full = (lamina.get_rng_state().numpy().tobytes(), np.random.get_state()[1].tobytes())
    _run(tmp_path, 2, own_generator=own_generator, tag="part")
    resumed = _run(tmp_path, 4, resume_from=tmp_path / "part" / "epoch2.safetensors", own_generator=own_generator,
                   tag="resumed")
    a, b = _state_bytes(full), _state_bytes(resumed)
    assert list(a) == list(b)
    for k in a:
        assert a[k] == b[k], f"{k} differs after resuming"
    assert resumed.history.epoch == [1, 2, 3, 4]
    assert resumed.history.history == full.history.history
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]
    assert resumed.global_step == full.global_step
    es_full, es_res = full.callbacks[1], resumed.callbacks[1]
    assert (es_full.best, es_full.wait, es_full.best_epoch) == (es_res.best, es_res.wait, es_res.best_epoch)
    # what comes next is identical too: the RNG streams end where the uninterrupted run left them
    assert (lamina.get_rng_state().numpy().tobytes(), np.random.get_state()[1].tobytes()) == rng_full


def test_rng_states_continue_identically(tmp_path):
    _run(tmp_path, 1, tag="a")
    after_full = (lamina.get_rng_state().numpy().tobytes(), np.random.get_state()[1].tobytes())
    ck = read_checkpoint(tmp_path / "a" / "epoch1.safetensors")
    lamina.manual_seed(1234)
    np.random.seed(1234)
    from lamina.training import restore_rng_state

    restore_rng_state(ck["rng"])  # no loader with its own generator in the list: only the global states
    assert (lamina.get_rng_state().numpy().tobytes(), np.random.get_state()[1].tobytes()) == after_full


def test_checkpoint_contents(tmp_path):
    trainer = _run(tmp_path, 2, tag="c")
    ck = read_checkpoint(tmp_path / "c" / "epoch2.safetensors")
    assert ck["epoch"] == 2 and ck["global_step"] == 10
    assert set(ck) >= {"model", "optimizer", "scheduler", "history", "callbacks", "rng", "config"}
    assert set(ck["rng"]) == {"lamina", "loaders", "numpy", "python"} and len(ck["rng"]["loaders"]) == 1
    assert list(ck["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # int keys survive
    assert ck["scheduler"] == trainer.scheduler.state_dict()
    assert "EarlyStopping" in ck["callbacks"] and "ModelCheckpoint" in ck["callbacks"]


def test_resume_errors(tmp_path):
    lamina.save({"w": lamina.zeros(2)}, tmp_path / "weights.safetensors")
    m = H.model()
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="not a lamina training checkpoint.*model.load_state_dict"):
        trainer.fit(H.loader(16), epochs=2, resume_from=tmp_path / "weights.safetensors", verbose=0)
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(lamina.serialization.SerializationError, match="broken.safetensors is truncated"):
        trainer.fit(H.loader(16), epochs=2, resume_from=tmp_path / "broken.safetensors", verbose=0)

"""lamina.save / lamina.load: exact round trips, no pickle, atomic writes, clear errors on bad files."""

import io
import json
import math
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict

import numpy as np
import pytest

import lamina
from lamina.serialization import SerializationError


def _same(a, b):
    """Structural equality that also checks dtypes and the exact bytes of tensors and arrays."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, lamina.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
        assert a.requires_grad == b.requires_grad
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert type(k) is type(next(x for x in b if x == k))
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize("dtype", [lamina.float16, lamina.float32, lamina.float64, lamina.int8, lamina.int16,
                                   lamina.int32, lamina.int64, lamina.uint8, lamina.bool])
def test_tensor_dtypes_and_shapes_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    obj = OrderedDict()
    for i, shape in enumerate([(), (0,), (3,), (2, 3, 4), (1, 0, 2)]):
        arr = (rng.standard_normal(shape) * 50).astype(dtype.np)
        obj[f"t{i}"] = lamina.tensor(arr, dtype=dtype)
    path = tmp_path / "x.safetensors"
    lamina.save(obj, path)
    back = lamina.load(path)
    _same(obj, back)


def test_model_state_dict_keeps_keys_order_and_is_plain_safetensors(tmp_path):
    model = lamina.nn.Sequential(lamina.nn.Linear(4, 3), lamina.nn.Linear(3, 2))
    sd = model.state_dict()
    lamina.save(sd, tmp_path / "m.safetensors")
    back = lamina.load(tmp_path / "m.safetensors")
    _same(sd, back)
    model2 = lamina.nn.Sequential(lamina.nn.Linear(4, 3), lamina.nn.Linear(3, 2))
    model2.load_state_dict(back)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    # other safetensors readers see the state_dict's own tensor names
    from safetensors.numpy import load_file

    raw = load_file(str(tmp_path / "m.safetensors"))
    assert sorted(raw) == sorted(sd)
    assert np.array_equal(raw["0.weight"], sd["0.weight"].numpy())


def test_nested_structure_with_int_keys_like_optimizer_state(tmp_path):
    rng = np.random.default_rng(1)
    opt_state = {
        "state": {0: {"step": lamina.tensor(3.0), "exp_avg": lamina.tensor(rng.standard_normal((2, 3)))},
                  1: {"step": lamina.tensor(3.0), "exp_avg": lamina.tensor(rng.standard_normal(3).astype("f4"))}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                          "foreach": None, "params": [0, 1], "name": "main"}],
    }
    obj = {"optimizer": opt_state, "epoch": 7, "nan": float("nan"), "inf": float("-inf"),
           "tiny": 5e-324, "big": 2 ** 70, "np": np.arange(5, dtype=np.int32), "npscalar": np.float32(0.1),
           "mixed_keys": {1: "a", "1": "b", (2, "x"): [None, True], 2.5: b"\x00\xff", None: False},
           "dtype": lamina.float16, "empty": {}, "empty_list": [], "nested": [[(1,), []]]}
    lamina.save(obj, tmp_path / "o.safetensors")
    back = lamina.load(tmp_path / "o.safetensors")
    _same(obj, back)
    assert list(back["optimizer"]["state"].keys()) == [0, 1]
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert type(back["npscalar"]) is np.float32 and back["npscalar"] == np.float32(0.1)


def test_ordered_dict_parameters_requires_grad_and_shared_tensors(tmp_path):
    p = lamina.nn.Parameter(lamina.randn(3))
    t = lamina.randn(2, requires_grad=True)
    obj = OrderedDict([("b", p), ("a", t), ("again", p)])
    lamina.save(obj, tmp_path / "p.safetensors")
    back = lamina.load(tmp_path / "p.safetensors")
    assert type(back) is OrderedDict and list(back) == ["b", "a", "again"]
    assert isinstance(back["b"], lamina.nn.Parameter) and back["b"].requires_grad
    assert back["a"].requires_grad and not isinstance(back["a"], lamina.nn.Parameter)
    assert back["again"] is back["b"]  # tied tensors stay tied
    assert np.array_equal(back["b"].detach().numpy(), p.detach().numpy())


def test_file_objects_and_single_tensor():
    buf = io.BytesIO()
    x = lamina.arange(6).reshape(2, 3)
    lamina.save(x, buf)
    buf.seek(0)
    y = lamina.load(buf)
    assert y.dtype == lamina.int64 and y.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_unsupported_objects_are_refused_with_their_place():
    with pytest.raises(TypeError, match="cannot store an object of type object at model/x"):
        lamina.save({"model": {"x": object()}}, io.BytesIO())
    with pytest.raises(TypeError, match="dict key of type frozenset"):
        lamina.save({frozenset([1]): 1}, io.BytesIO())


def test_no_pickle_in_the_file(tmp_path):
    lamina.save({"w": lamina.randn(3), "cfg": {"a": (1, 2)}}, tmp_path / "f.safetensors")
    raw = (tmp_path / "f.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])  # the whole structure is plain JSON
    assert header["__metadata__"]["format"] == "lamina"
    json.loads(header["__metadata__"]["lamina_tree"])


def test_foreign_safetensors_file_loads_as_dict(tmp_path):
    from safetensors.numpy import save_file

    save_file({"b": np.ones(2, np.float32), "a": np.zeros((1, 2), np.int64)}, str(tmp_path / "hf.safetensors"))
    back = lamina.load(tmp_path / "hf.safetensors")
    assert set(back) == {"a", "b"} and back["a"].dtype == lamina.int64


# ------------------------------------------------------------------------------------------- bad files


def _good_file(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    lamina.save({"model": {"w": lamina.randn(64, 64)}, "epoch": 3}, path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        lamina.load(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("cut", [0, 4, 8, 30, -1, -100])
def test_truncated_file_error_names_file(tmp_path, cut):
    path = _good_file(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:cut] if cut >= 0 else raw[:len(raw) + cut])
    with pytest.raises(SerializationError, match=r"lamina.load: checkpoint.safetensors is (truncated|not a)"):
        lamina.load(path)


def test_flipped_data_byte_fails_checksum(tmp_path):
    path = _good_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-7] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(SerializationError, match=r"checkpoint.safetensors is corrupt: tensor 'model/w' fails"):
        lamina.load(path)


def test_corrupt_structure_json(tmp_path):
    path = _good_file(tmp_path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["lamina_tree"] = '{"__dict__": {"epoch": {"__evil__": "os.system"}}}'
    new = json.dumps(header).encode()
    path.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n:])
    with pytest.raises(SerializationError, match="corrupt: unknown tag '__evil__'"):
        lamina.load(path)
    header["__metadata__"]["lamina_tree"] = '{"__dict__": {"w": {"__tensor__": "missing"}}}'
    new = json.dumps(header).encode()
    path.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n:])
    with pytest.raises(SerializationError, match="refers to a tensor 'missing'"):
        lamina.load(path)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint at all\n")
    with pytest.raises(SerializationError, match="notes.txt is not a lamina file"):
        lamina.load(text)
    pkl = tmp_path / "model.pt"
    pkl.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(SerializationError, match="model.pt is a pickle file.*never loads pickle"):
        lamina.load(pkl)
    zipf = tmp_path / "model.pth"
    zipf.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(SerializationError, match="model.pth is a zip archive"):
        lamina.load(zipf)
    with pytest.raises(IsADirectoryError):
        lamina.load(tmp_path)


# ------------------------------------------------------------------------------------------- atomicity


def test_atomic_save_leaves_no_temporary_and_replaces(tmp_path):
    path = tmp_path / "a.safetensors"
    lamina.save({"v": 1}, path)
    lamina.save({"v": 2}, path)
    assert lamina.load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["a.safetensors"]


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "a.safetensors"
    lamina.save({"v": 1}, path)
    with pytest.raises(TypeError):
        lamina.save({"v": object()}, path)
    assert lamina.load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.safetensors"]


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    import lamina
    path = sys.argv[1]
    big = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)  # 4 MiB per tensor
    i = 0
    while True:
        i += 1
        lamina.save({"step": i, "w": lamina.tensor(big + i), "v": lamina.tensor(big * i)}, path)
        print(i, flush=True)
""")


def test_sigkill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    rnd = random.Random(0)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
        try:
            # wait for at least one complete save, then kill at a random moment during later ones
            first = proc.stdout.readline()
            assert first.strip(), "writer produced no checkpoint"
            time.sleep(rnd.uniform(0.0, 0.3))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
            proc.stdout.close()
        back = lamina.load(path)
        step = back["step"]
        assert step >= 1
        w = back["w"].numpy()
        assert w.shape == (1024, 1024)
        big = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
        assert np.array_equal(w, big + step)
        assert np.array_equal(back["v"].numpy(), big * step)

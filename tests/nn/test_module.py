"""Module system: registration, traversal, modes, state_dict, hooks, apply, dtype moves, reprs and containers,
checked against PyTorch's behaviour on equivalent models."""

from collections import OrderedDict

import numpy as np
import pytest

import lamina
from lamina import nn
from tests.conftest import assert_close, from_torch, torch
from tests.nn._parity import layer_parity

TNN = torch.nn


def _pair_models(build):
    """The same architecture built once with lamina.nn and once with torch.nn (build gets the namespace)."""
    return build(nn), build(TNN)


class _Block:
    """A custom module defined once for both frameworks: params, a buffer, a non-persistent buffer, children."""

    @staticmethod
    def make(ns, base):
        class Block(base):
            def __init__(self):
                super().__init__()
                self.fc = ns.Linear(3, 4)
                self.act = ns.Tanh()
                self.scale = ns.Parameter(lib(ns).ones(4))
                self.register_buffer("count", lib(ns).zeros(1))
                self.register_buffer("scratch", lib(ns).zeros(2), persistent=False)

            def forward(self, x):
                return self.act(self.fc(x)) * self.scale

        return Block()


def lib(ns):
    return lamina if ns is nn else torch


def _block(ns):
    return _Block.make(ns, ns.Module)


def _net(ns):
    return ns.Sequential(OrderedDict([
        ("block", _block(ns)),
        ("head", ns.Sequential(ns.Linear(4, 5), ns.ReLU(), ns.Softsign(), ns.Linear(5, 2, bias=False))),
        ("heads", ns.ModuleList([ns.Linear(2, 2), ns.Identity()])),
        ("named", ns.ModuleDict({"b": ns.Linear(2, 1), "a": ns.Sigmoid()})),
    ]))


def test_state_dict_keys_and_named_members_match_torch():
    model, ref = _pair_models(_net)
    assert list(model.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in model.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [n for n, _ in model.named_children()] == [n for n, _ in ref.named_children()]
    assert [tuple(p.shape) for p in model.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert len(list(model.modules())) == len(list(ref.modules()))
    assert [n for n, _ in model.named_parameters(prefix="m", recurse=True)] == \
        [n for n, _ in ref.named_parameters(prefix="m")]
    assert [n for n, _ in model.block.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in model.block.named_buffers(recurse=False)] == ["count", "scratch"]


def test_repr_matches_torch():
    model, ref = _pair_models(_net)
    assert repr(model).replace("Block", "B") == repr(ref).replace("Block", "B")
    for build in (lambda ns: ns.Sequential(),
                  lambda ns: ns.ModuleList(),
                  lambda ns: ns.Sequential(ns.Linear(2, 3), ns.Sequential(ns.ReLU(), ns.Softmax(dim=1))),
                  lambda ns: ns.ModuleDict({"x": ns.LeakyReLU(0.1, inplace=True)})):
        a, b = _pair_models(build)
        assert repr(a) == repr(b)


def test_repr_multiline_extra_repr():
    class Odd(nn.Module):
        def extra_repr(self):
            return "first\nsecond"

    class TOdd(TNN.Module):
        def extra_repr(self):
            return "first\nsecond"

    outer = nn.Sequential(Odd())
    touter = TNN.Sequential(TOdd())
    assert repr(outer).replace("Odd", "X") == repr(touter).replace("TOdd", "X")


def test_forward_and_grads_match_torch_after_loading_state_dict(rng):
    model, ref = _pair_models(_net)
    model.double()
    ref.double()
    head = nn.Sequential(model.block, model.head)
    ref_head = TNN.Sequential(ref.block, ref.head)
    layer_parity(head, ref_head, rng.standard_normal((5, 3)))
    sd = model.state_dict()
    for k, v in ref_head.state_dict().items():
        assert_close(head.state_dict()[k], v)
    assert sd["block.count"].dtype is lamina.float64


def test_state_dict_tensors_are_detached_and_shared():
    lin = nn.Linear(2, 3)
    sd = lin.state_dict()
    assert not sd["weight"].requires_grad
    with lamina.no_grad():
        lin.weight.fill_(2.0)
    assert float(sd["weight"][0, 0]) == 2.0  # a view of the parameter, as in PyTorch
    kv = lin.state_dict(keep_vars=True)
    assert kv["weight"] is lin.weight


def test_load_state_dict_strict_errors():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    good = model.state_dict()
    bad = dict(good)
    del bad["1.bias"]
    bad["extra.weight"] = lamina.zeros(1)
    bad["0.weight"] = lamina.zeros(4, 2)
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(bad)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "1.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert ("size mismatch for 0.weight: copying a param with shape (4, 2) from checkpoint, the shape in current "
            "model is (3, 2).") in msg
    del bad["0.weight"]
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(bad)
    res = model.load_state_dict({k: v for k, v in bad.items()}, strict=False)
    assert res.missing_keys == ["0.weight", "1.bias"] and res.unexpected_keys == ["extra.weight"]
    with pytest.raises(RuntimeError, match="size mismatch for 1.weight"):
        model.load_state_dict({"1.weight": lamina.zeros(2, 3)}, strict=False)
    assert model.load_state_dict(good) is not None


def test_load_state_dict_copies_values_and_casts_dtype(rng):
    ref = TNN.Linear(3, 2)
    lin = nn.Linear(3, 2)
    w_before = lin.weight
    lin.load_state_dict(from_torch(ref.double().state_dict()))  # float64 into a float32 layer: cast on copy
    assert lin.weight is w_before and lin.weight.dtype is lamina.float32
    assert_close(lin.weight, ref.weight.float(), rtol=0, atol=0)
    assert lin.weight.requires_grad


def test_buffers_persistent_and_not():
    blk = _block(nn)
    assert "count" in blk.state_dict() and "scratch" not in blk.state_dict()
    assert [n for n, _ in blk.named_buffers()] == ["count", "scratch"]
    blk.count = lamina.ones(1)  # assigning a tensor to a buffer name replaces the buffer
    assert float(blk.state_dict()["count"][0]) == 1.0
    blk.register_buffer("none_buf", None)
    assert "none_buf" not in blk.state_dict()
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer"):
        blk.register_buffer("bad", 3)
    with pytest.raises(KeyError, match="buffer name can"):
        blk.register_buffer("a.b", lamina.zeros(1))


def test_parameter_registration_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(lamina.zeros(2))
    m.register_parameter("b", None)
    assert [n for n, _ in m.named_parameters()] == ["w"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = lamina.zeros(2)
    m.w = None
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing  # noqa: B018
    p = nn.Parameter(lamina.ones(3))
    assert p.requires_grad and isinstance(p, lamina.Tensor) and p.is_leaf
    assert repr(p) == repr(TNN.Parameter(torch.ones(3))).replace("torch", "lamina")
    assert not nn.Parameter(lamina.ones(1), requires_grad=False).requires_grad
    del m.w
    assert "w" not in m._parameters


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    model = nn.Sequential(a, nn.ReLU(), a)
    ref_a = TNN.Linear(2, 2)
    ref = TNN.Sequential(ref_a, TNN.ReLU(), ref_a)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert list(model.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in model.named_modules()] == [n for n, _ in ref.named_modules()]


def test_train_eval_and_training_flag():
    model = _net(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.head.train(False)
    assert model.training and not model.head[0].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")


def test_zero_grad_and_requires_grad_():
    lin = nn.Linear(2, 2)
    lin(lamina.ones(1, 2)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert np.all(lin.weight.grad.numpy() == 0)
    lin.zero_grad()
    assert lin.weight.grad is None
    assert lin.requires_grad_(False) is lin
    assert not any(p.requires_grad for p in lin.parameters())
    lin.requires_grad_()
    assert all(p.requires_grad for p in lin.parameters())


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", m)) or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", tuple(args[0].shape))) or out + 1)
    out = lin(lamina.ones(3, 2))
    assert [c[0] for c in calls] == ["pre", "post"] and calls[0][1] is lin
    assert_close(out, (lin.bias.detach() + 1).numpy()[None].repeat(3, 0))  # input zeroed by the pre-hook
    h1.remove()
    h2.remove()
    calls.clear()
    out = lin(lamina.ones(1, 2))
    assert calls == []
    assert_close(out, (lin.weight.detach().numpy().sum(1) + lin.bias.detach().numpy())[None])


def test_hooks_prepend_and_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("first"))
    m.register_forward_hook(lambda mod, a, o: order.append("prepended"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {"factor": kw.get("factor", 1.0) * 10}), with_kwargs=True)
    seen = []
    m.register_forward_hook(lambda mod, a, kw, o: seen.append(kw["factor"]), with_kwargs=True)
    out = m(lamina.ones(2), factor=2.0)
    assert_close(out, [20.0, 20.0])
    assert order == ["prepended", "first"] and seen == [20.0]


def test_forward_hook_collects_leaf_outputs():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    shapes = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append((type(m).__name__, tuple(o.shape))))
               for m in model if not list(m.children())]
    model(lamina.zeros(5, 4))
    assert shapes == [("Linear", (5, 3)), ("ReLU", (5, 3)), ("Linear", (5, 2))]
    for h in handles:
        h.remove()


def test_apply_visits_children_first_like_torch():
    model, ref = _pair_models(lambda ns: ns.Sequential(ns.Sequential(ns.Linear(1, 1), ns.ReLU()), ns.Tanh()))
    order, ref_order = [], []
    assert model.apply(lambda m: order.append(type(m).__name__)) is model
    ref.apply(lambda m: ref_order.append(type(m).__name__))
    assert order == ref_order

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model.apply(init)
    assert float(model[0][0].weight[0, 0]) == 0.5


def test_to_dtype_keeps_parameter_objects():
    blk = _block(nn)
    w = blk.fc.weight
    blk.register_buffer("steps", lamina.zeros(1, dtype=lamina.int64))
    blk(lamina.ones(1, 3)).sum().backward()
    assert blk.to(lamina.float64) is blk
    assert blk.fc.weight is w and w.dtype is lamina.float64 and w.grad.dtype is lamina.float64
    assert blk.count.dtype is lamina.float64
    assert blk.steps.dtype is lamina.int64  # integer buffers keep their dtype
    blk.float()
    assert w.dtype is lamina.float32
    blk.to(dtype=lamina.float64)
    assert w.dtype is lamina.float64
    assert blk(lamina.ones(2, 3, dtype=lamina.float64)).dtype is lamina.float64


def test_sequential_indexing_slicing_and_ordereddict():
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("act", nn.ReLU()), ("fc2", nn.Linear(3, 1))]))
    ref = TNN.Sequential(OrderedDict([("fc1", TNN.Linear(2, 3)), ("act", TNN.ReLU()), ("fc2", TNN.Linear(3, 1))]))
    assert list(model.state_dict()) == list(ref.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert model[0] is model.fc1 and model[-1] is model.fc2
    sub = model[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["act", "fc2"] and sub[1] is model.fc2
    assert repr(model[1:]) == repr(ref[1:])
    assert len(model) == 3 and list(model) == [model.fc1, model.act, model.fc2]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        model[3]
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    tseq = TNN.Sequential(TNN.ReLU(), TNN.Tanh(), TNN.Sigmoid())
    del seq[0]
    del tseq[0]
    assert repr(seq) == repr(tseq)
    seq.append(nn.ReLU())
    tseq.append(TNN.ReLU())
    seq.insert(1, nn.Softsign())
    tseq.insert(1, TNN.Softsign())
    seq[0] = nn.Identity()
    tseq[0] = TNN.Identity()
    assert repr(seq) == repr(tseq)
    x = lamina.tensor([[-1.0, 2.0]])
    assert_close(seq(x), tseq(torch.tensor([[-1.0, 2.0]])))


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    tml = TNN.ModuleList([TNN.Linear(1, 1), TNN.ReLU()])
    ml.append(nn.Tanh())
    tml.append(TNN.Tanh())
    ml.extend([nn.Sigmoid()])
    tml.extend([TNN.Sigmoid()])
    ml.insert(0, nn.Identity())
    tml.insert(0, TNN.Identity())
    ml += [nn.ReLU6()]
    tml += [TNN.ReLU6()]
    assert repr(ml) == repr(tml)
    assert repr(ml[1:3]) == repr(tml[1:3])
    assert isinstance(ml[-1], nn.ReLU6) and len(ml) == len(tml) == 6
    del ml[1]
    del tml[1]
    assert repr(ml) == repr(tml)
    assert list(ml.state_dict()) == list(tml.state_dict())
    md = nn.ModuleDict({"z": nn.Linear(1, 2), "a": nn.ReLU()})
    tmd = TNN.ModuleDict({"z": TNN.Linear(1, 2), "a": TNN.ReLU()})
    md["m"] = nn.Tanh()
    tmd["m"] = TNN.Tanh()
    md.update([("q", nn.Sigmoid())])
    tmd.update([("q", TNN.Sigmoid())])
    assert list(md.keys()) == list(tmd.keys()) == ["z", "a", "m", "q"]
    assert "a" in md and isinstance(md.pop("a"), nn.ReLU) and "a" not in md
    tmd.pop("a")
    assert repr(md) == repr(tmd)
    assert list(md.state_dict()) == list(tmd.state_dict())


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(lamina.zeros(2)), lamina.ones(3)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"a": nn.Parameter(lamina.zeros(1))})
    pd["b"] = lamina.ones(2)
    assert list(pd.keys()) == ["a", "b"] and isinstance(pd["b"], nn.Parameter)


def test_custom_module_forward_missing():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(lamina.zeros(1))

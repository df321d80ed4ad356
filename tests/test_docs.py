"""Every ```python block of README.md and docs/GUIDE.md runs, so the documentation stays true.

The blocks of one file share a namespace and run in order, inside a temporary working directory (files the
examples write land there). A block whose first line is ``# not run`` is skipped: only for blocks that need the
shell or a long training. A block that raises fails the test, and the traceback points at the Markdown line.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/GUIDE.md"]
SKIP_MARK = "# not run"
_FENCE = re.compile(r"^```(\S*)\s*$")


def python_blocks(text):
    """``(first_line, source)`` of each fenced ```python block, with 1-based Markdown line numbers."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start, i = m.group(1).lower(), i + 1, i + 1
        while i < len(lines) and lines[i].rstrip() != "```":
            i += 1
        if i == len(lines):
            raise ValueError(f"unclosed code fence opened at line {start}")
        if lang in ("python", "py"):
            blocks.append((start + 1, "\n".join(lines[start:i]) + "\n"))
        i += 1
    return blocks


def run_blocks(text, filename):
    """Run the blocks of one document in one namespace; returns how many ran (skipped ones excluded)."""
    namespace = {"__name__": "__docs__"}
    ran = 0
    for line, source in python_blocks(text):
        if source.lstrip().startswith(SKIP_MARK):
            continue
        # pad so that the traceback's line numbers are the Markdown file's
        code = compile("\n" * (line - 1) + source, filename, "exec")
        exec(code, namespace)  # noqa: S102 - the repository's own documentation
        ran += 1
    return ran


@pytest.fixture
def docs_env(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    import lamina

    state = lamina.get_rng_state()
    dtype = lamina.get_default_dtype()
    yield tmp_path
    lamina.set_rng_state(state)
    lamina.set_default_dtype(dtype)


@pytest.mark.parametrize("doc", DOCS)
def test_doc_blocks_run(doc, docs_env):
    path = ROOT / doc
    text = path.read_text(encoding="utf-8")
    total = len(python_blocks(text))
    assert total > 0, f"{doc} has no ```python blocks"
    ran = run_blocks(text, str(path))
    assert ran > 0, f"every python block of {doc} is marked '{SKIP_MARK}'"


def test_guide_runs_almost_every_block():
    blocks = python_blocks((ROOT / "docs/GUIDE.md").read_text(encoding="utf-8"))
    skipped = [line for line, src in blocks if src.lstrip().startswith(SKIP_MARK)]
    assert len(blocks) >= 30
    assert len(skipped) <= 3, f"GUIDE.md skips too many blocks (lines {skipped})"


def test_extractor_and_runner_catch_failures():
    text = ("intro\n\n```python\nx = 1\n```\n\n```bash\nexit 1\n```\n\n```python\n# not run\nraise SystemExit\n```\n"
            "\n```python\nassert x == 1\ny = 1 / 0\n```\n")
    blocks = python_blocks(text)
    assert [line for line, _ in blocks] == [4, 12, 17]
    with pytest.raises(ZeroDivisionError) as info:
        run_blocks(text, "FAKE.md")
    assert info.traceback[-1].lineno + 1 == 18  # the Markdown line of "y = 1 / 0"
    assert run_blocks(text.replace("y = 1 / 0", "y = 2"), "FAKE.md") == 2
    with pytest.raises(ValueError, match="unclosed"):
        python_blocks("```python\nx = 1\n")

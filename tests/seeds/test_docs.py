"""The code blocks of docs/*.md run as written: each page's ```python blocks in order, in one
namespace, in a temporary directory."""

import contextlib
import io
import pathlib
import re

import pytest
import torch

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def python_blocks(page: pathlib.Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("page", ["keras_users.md", "pytorch_users.md"])
def test_doc_code_blocks_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(DOCS / page)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "__doc__"}
    try:
        for i, block in enumerate(blocks):
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(block, f"{page}[block {i}]", "exec"), namespace)  # noqa: S102
    finally:
        torch.set_num_threads(threads)

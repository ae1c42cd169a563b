"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(_python_blocks()) >= 6


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files (teamwork.json)
    namespace: dict = {}
    with warnings.catch_warnings():
        # Examples may warn (e.g. a missing item, a two-factor omega); they must not fail.
        warnings.simplefilter("ignore")
        for number, block in enumerate(_python_blocks(), start=1):
            try:
                exec(compile(block, f"README.md python block {number}", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the message says which block failed
                pytest.fail(f"README python block {number} failed: {type(exc).__name__}: {exc}\n{block}")
    # the numbers quoted in the README comments
    assert namespace["result"].A == pytest.approx(1.217, abs=0.005)
    assert namespace["result"].B == pytest.approx(0.458, abs=0.005)
    assert namespace["om"].hierarchical == pytest.approx(0.713, abs=0.005)
    assert namespace["joint"].comparison["se_profile"].tolist() == pytest.approx([0.465, 0.476], abs=0.001)

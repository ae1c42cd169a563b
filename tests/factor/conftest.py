"""Shared fixtures of the factor tests: the seeded data sets and the R reference numbers.

Data: tests/reference/factor_<name>.csv from tests/reference/factor_make_data.py; reference
numbers: tests/reference/factor_reference.csv from tests/reference/factor_reference.R
(long form: name, row, col, value).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _reference_table() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "factor_reference.csv")


def _reference_matrix(name: str) -> pd.DataFrame:
    """A matrix from factor_reference.csv, rows and columns in R's order."""
    table = _reference_table()
    block = table[table["name"] == name]
    rows = list(dict.fromkeys(block["row"].astype(str)))
    cols = list(dict.fromkeys(block["col"].astype(str)))
    return block.assign(row=block["row"].astype(str), col=block["col"].astype(str)).pivot(
        index="row", columns="col", values="value").loc[rows, cols]


def _reference_values(name: str) -> pd.Series:
    """A vector from factor_reference.csv, indexed by its row labels."""
    table = _reference_table()
    block = table[table["name"] == name]
    return pd.Series(block["value"].to_numpy(), index=block["row"].astype(str).to_numpy())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"factor_{name}.csv", index_col=0)


@pytest.fixture(scope="session")
def factor_reference() -> Callable[[str], pd.DataFrame]:
    """``factor_reference(name)``: a reference matrix, rows and columns in R's order."""
    return _reference_matrix


@pytest.fixture(scope="session")
def factor_reference_values() -> Callable[[str], pd.Series]:
    """``factor_reference_values(name)``: a reference vector indexed by its row labels."""
    return _reference_values


@pytest.fixture(scope="session")
def factor_data() -> Callable[[str], pd.DataFrame]:
    """``factor_data(name)``: a seeded data set (``continuous``, ``ordinal``, ...)."""
    return _data

"""Building float32 CSR matrices from plain arrays: the one sparse format the recommendation model stores."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["Csr", "as_csr", "csr", "csr_from_triplets", "empty_csr"]

Csr: TypeAlias = "sp.csr_matrix[np.float32]"


def csr(
    data: npt.NDArray[np.float32], indices: npt.NDArray[np.int32], indptr: npt.NDArray[np.int64], shape: tuple[int, int]
) -> Csr:
    """A CSR matrix from its three arrays (float32 values)."""
    return sp.csr_matrix((data.astype(np.float32, copy=False), indices, indptr), shape=shape)


def as_csr(matrix: sp.csr_matrix[Any] | sp.csc_matrix[Any]) -> Csr:
    """A scipy sparse result as a float32 CSR matrix."""
    converted: Csr = sp.csr_matrix(matrix.tocsr(), dtype=np.float32)
    return converted


def empty_csr(rows: int, cols: int) -> Csr:
    """An all-zero CSR matrix of this shape."""
    return csr(
        np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int32), np.zeros(rows + 1, dtype=np.int64), (rows, cols)
    )


def csr_from_triplets(
    values: npt.NDArray[np.float32],
    rows: npt.NDArray[np.integer],
    cols: npt.NDArray[np.integer],
    shape: tuple[int, int],
) -> Csr:
    """A CSR matrix from (row, col, value) triplets; duplicates are summed."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    matrix = csr(values[order], cols[order].astype(np.int32), indptr, shape)
    matrix.sum_duplicates()
    return matrix

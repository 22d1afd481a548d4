"""Per-pillar (BEV cell) max pooling of point features.

Points are grouped by ONE linearised int64 key per BEV cell,
``b * R * P + i_rho * P + i_phi``; ``torch.unique`` on that key is about 20x
faster than ``unique(dim=0)`` over index rows (docs/METHOD.md 8). The per-pillar
max uses the fastest primitive available; ``torch_scatter`` stays a
supported backend.
"""
import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor

#: Names accepted by :func:`pillar_max`.
REDUCE_BACKENDS = ('torch', 'index_reduce', 'torch_scatter')
#: Largest key range for which :func:`unique_pillars` uses a dense table.
MAX_TABLE_CELLS = 1 << 27


def pillar_keys(grid_ind: Tensor, batch_idx: Tensor,
                bev_shape: Tuple[int, int]) -> Tensor:
    """Linearised BEV cell key of every point.

    Args:
        grid_ind (Tensor): (N, >=2) int64 cell indices (i_rho, i_phi, ...).
        batch_idx (Tensor): (N,) int64 sample index of every point.
        bev_shape (tuple[int, int]): (R, P) rho and phi cells.

    Returns:
        Tensor: (N,) int64 ``b * R * P + i_rho * P + i_phi``.
    """
    r, p = bev_shape
    return (batch_idx * r + grid_ind[:, 0]) * p + grid_ind[:, 1]


def unique_pillars(keys: Tensor,
                   num_cells: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """Occupied pillars and the pillar of every point.

    With ``num_cells`` (the key range ``B * R * P``) up to
    :data:`MAX_TABLE_CELLS`, a dense occupancy table replaces the sort of
    ``torch.unique``: O(N + cells) scatters and one ``nonzero``.

    Args:
        keys (Tensor): (N,) int64 linear keys from :func:`pillar_keys`.
        num_cells (int, optional): Upper bound (exclusive) of the keys.

    Returns:
        tuple[Tensor, Tensor]: sorted unique keys (V,) and the inverse
        (N,) int64 index of each point's pillar in them.
    """
    if num_cells is None or num_cells > MAX_TABLE_CELLS:
        return torch.unique(keys, sorted=True, return_inverse=True)
    table = torch.zeros(num_cells, dtype=torch.int64, device=keys.device)
    table[keys] = 1
    pillars = table.nonzero().squeeze(1)
    table[pillars] = torch.arange(
        pillars.numel(), dtype=torch.int64, device=keys.device)
    return pillars, table[keys]


def torch_scatter_available() -> bool:
    """Whether the optional ``torch_scatter`` package imports."""
    try:
        import torch_scatter  # noqa: F401
    except ImportError:
        return False
    return True


def pillar_max(src: Tensor, inverse: Tensor, num_pillars: int,
               backend: str = 'torch',
               out: Optional[Tensor] = None) -> Tensor:
    """Max of the point features of every pillar.

    Args:
        src (Tensor): (N, C) point features.
        inverse (Tensor): (N,) int64 pillar of every point, in
            ``[0, num_pillars)``.
        num_pillars (int): V; without ``out``, pillars without points get
            zeros.
        backend (str): ``'torch'`` (``Tensor.scatter_reduce_`` with
            ``'amax'``), ``'index_reduce'`` (``Tensor.index_reduce_``, beta
            in torch) or ``'torch_scatter'`` (``torch_scatter.scatter_max``).
        out (Tensor, optional): (V, C) running maxima to update in place
            (its values take part in the max), e.g. ``-inf`` before the
            first of several chunks of points.

    Returns:
        Tensor: (V, C) per-pillar maxima (``out`` if given). The gradient
        goes to the maximal point(s) (torch backends split it evenly among
        ties).
    """
    if src.dim() != 2 or inverse.shape != src.shape[:1]:
        raise ValueError(f'pillar_max: expected src (N, C) and inverse (N,), '
                         f'got {tuple(src.shape)} and {tuple(inverse.shape)}')
    num_ch = src.shape[1]
    include_self = out is not None
    if out is None:
        out = src.new_zeros(num_pillars, num_ch)
    if backend == 'torch':
        index = inverse.unsqueeze(1).expand(-1, num_ch)
        return out.scatter_reduce_(0, index, src, 'amax',
                                   include_self=include_self)
    if backend == 'index_reduce':
        with warnings.catch_warnings():  # "index_reduce() is in beta"
            warnings.simplefilter('ignore', UserWarning)
            return out.index_reduce_(0, inverse, src, 'amax',
                                     include_self=include_self)
    if backend == 'torch_scatter':
        try:
            import torch_scatter
        except ImportError as err:
            raise ImportError(
                "pillar_max: backend='torch_scatter' needs the torch_scatter "
                "package; use backend='torch' instead") from err
        if include_self:
            return torch_scatter.scatter_max(src, inverse, dim=0, out=out)[0]
        return torch_scatter.scatter_max(
            src, inverse, dim=0, dim_size=num_pillars)[0]
    raise ValueError(f'pillar_max: unknown backend {backend!r}; choose one '
                     f'of {REDUCE_BACKENDS}')


def scatter_to_bev(values: Tensor, keys: Tensor, batch_size: int,
                   bev_shape: Tuple[int, int]) -> Tensor:
    """Write per-pillar values into a zero channels-first BEV map.

    Args:
        values (Tensor): (V, C) one row per occupied pillar.
        keys (Tensor): (V,) int64 linear keys of those pillars.
        batch_size (int): B.
        bev_shape (tuple[int, int]): (R, P).

    Returns:
        Tensor: (B, C, R, P), zeros in empty cells.
    """
    r, p = bev_shape
    num_ch = values.shape[1]
    dense = values.new_zeros(num_ch, batch_size * r * p)
    dense[:, keys] = values.t()
    dense = dense.view(num_ch, batch_size, r, p).transpose(0, 1)
    return dense.contiguous()

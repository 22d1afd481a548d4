"""Per-pillar max pooling against a literal loop."""
import pytest
import torch

from kdmos_plugin.models.layers import (pillar_keys, pillar_max,
                                        scatter_to_bev, unique_pillars)
from kdmos_plugin.models.layers.pillar_scatter import torch_scatter_available


def _points(n=300, shape=(6, 5), batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    grid = torch.stack([
        torch.randint(0, shape[0], (n, ), generator=g),
        torch.randint(0, shape[1], (n, ), generator=g),
        torch.randint(0, 4, (n, ), generator=g)
    ], 1)
    batch_idx = torch.randint(0, batch, (n, ), generator=g)
    feats = torch.randn(n, 3, generator=g)
    return grid, batch_idx, feats


def _literal_bev(grid, batch_idx, feats, batch, shape):
    out = torch.zeros(batch, feats.shape[1], *shape)
    seen = set()
    for n in range(len(feats)):
        b, r, p = int(batch_idx[n]), int(grid[n, 0]), int(grid[n, 1])
        if (b, r, p) not in seen:
            out[b, :, r, p] = feats[n]
            seen.add((b, r, p))
        else:
            out[b, :, r, p] = torch.maximum(out[b, :, r, p], feats[n])
    return out


def test_keys_are_linear():
    grid = torch.tensor([[2, 3, 1], [0, 0, 0]])
    assert pillar_keys(grid, torch.tensor([1, 0]), (6, 5)).tolist() == [
        1 * 30 + 2 * 5 + 3, 0
    ]


@pytest.mark.parametrize('backend', ['torch', 'index_reduce'])
def test_pillar_max_matches_literal(backend):
    grid, batch_idx, feats = _points()
    keys = pillar_keys(grid, batch_idx, (6, 5))
    pillars, inverse = unique_pillars(keys)
    pooled = pillar_max(feats, inverse, len(pillars), backend)
    bev = scatter_to_bev(pooled, pillars, 2, (6, 5))
    torch.testing.assert_close(bev, _literal_bev(grid, batch_idx, feats, 2,
                                                 (6, 5)))


def test_torch_scatter_backend_or_clear_error():
    grid, batch_idx, feats = _points()
    pillars, inverse = unique_pillars(pillar_keys(grid, batch_idx, (6, 5)))
    ref = pillar_max(feats, inverse, len(pillars), 'torch')
    if torch_scatter_available():
        torch.testing.assert_close(
            pillar_max(feats, inverse, len(pillars), 'torch_scatter'), ref)
        out = torch.full_like(ref, float('-inf'))
        pillar_max(feats[:100], inverse[:100], len(pillars), 'torch_scatter',
                   out=out)
        pillar_max(feats[100:], inverse[100:], len(pillars), 'torch_scatter',
                   out=out)
        torch.testing.assert_close(out, ref)
    else:
        with pytest.raises(ImportError, match='torch_scatter'):
            pillar_max(feats, inverse, len(pillars), 'torch_scatter')


def test_gradient_reaches_the_maximum():
    feats = torch.tensor([[1.0], [3.0], [2.0]], requires_grad=True)
    pillar_max(feats, torch.tensor([0, 0, 1]), 2).sum().backward()
    assert feats.grad[:, 0].tolist() == [0.0, 1.0, 1.0]


def test_unknown_backend():
    with pytest.raises(ValueError, match='unknown backend'):
        pillar_max(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), 1,
                   'cuda_magic')


def test_table_unique_equals_torch_unique():
    keys = torch.randint(0, 500, (2000, ))
    ref_unq, ref_inv = torch.unique(keys, sorted=True, return_inverse=True)
    unq, inv = unique_pillars(keys, 500)
    assert torch.equal(unq, ref_unq) and torch.equal(inv, ref_inv)


@pytest.mark.parametrize('backend', ['torch', 'index_reduce'])
def test_running_max_over_chunks(backend):
    grid, batch_idx, feats = _points()
    pillars, inverse = unique_pillars(pillar_keys(grid, batch_idx, (6, 5)))
    ref = pillar_max(feats, inverse, len(pillars), backend)
    out = torch.full((len(pillars), 3), float('-inf'))
    for start in range(0, len(feats), 70):
        pillar_max(feats[start:start + 70], inverse[start:start + 70],
                   len(pillars), backend, out=out)
    torch.testing.assert_close(out, ref)

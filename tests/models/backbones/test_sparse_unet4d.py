"""SparseUNet4D and its residual block on CPU (spconv, native algorithm)."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from spconv.core import ConvAlgo
from spconv.pytorch.conv import SparseConvolution

from kdmos_plugin.models.backbones.sparse_unet4d import (SparseResBlock4D,
                                                         SparseUNet4D)


def _sites(num, shape=(6, 6, 5, 4), batch=2, seed=0):
    """(V, 5) int32 unique (batch, x, y, z, t) sites, sorted."""
    g = torch.Generator().manual_seed(seed)
    cols = [torch.randint(0, batch, (num, ), generator=g)]
    cols += [torch.randint(0, s, (num, ), generator=g) for s in shape]
    return torch.unique(torch.stack(cols, 1), dim=0).int()


def _literal_subm(feats, coors, weight, kernel):
    """out[v] = sum_o W[:, o, :] @ f[site(v) + o - pad] over active sites."""
    index = {tuple(c): i for i, c in enumerate(coors.tolist())}
    pad = [k // 2 for k in kernel]
    out = torch.zeros(len(feats), weight.shape[0], dtype=torch.float64)
    for v, c in enumerate(coors.tolist()):
        for o in itertools.product(*[range(k) for k in kernel]):
            nb = (c[0], ) + tuple(c[1 + d] + o[d] - pad[d] for d in range(4))
            u = index.get(nb)
            if u is not None:
                out[v] += weight[(slice(None), ) + o].double() @ \
                    feats[u].double()
    return out


def _literal_bn(x, bn):
    return ((x - bn.running_mean.double()) /
            torch.sqrt(bn.running_var.double() + bn.eps) *
            bn.weight.double() + bn.bias.double())


def _randomise_bn(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def test_residual_block_matches_literal_4d_convolution():
    import spconv.pytorch as spconv
    torch.manual_seed(0)
    kernel = (3, 3, 3, 3)
    coors = _sites(40, shape=(4, 4, 3, 3))
    feats = torch.randn(len(coors), 3)
    block = SparseResBlock4D(3, 5, kernel, 'k').eval()
    _randomise_bn(block)
    x = spconv.SparseConvTensor(feats, coors, [4, 4, 3, 3], 2)
    from kdmos_plugin.utils.spconv_algo import set_spconv_algo
    set_spconv_algo(block, 'cpu')
    with torch.no_grad():
        out = block(x).features

    w1 = block.conv1.weight                       # (out, kx, ky, kz, kt, in)
    assert w1.shape == (5, 3, 3, 3, 3, 3)
    h = torch.relu(_literal_bn(_literal_subm(feats, coors, w1, kernel),
                               block.act1[0]))
    h = _literal_bn(_literal_subm(h, coors, block.conv2.weight, kernel),
                    block.bn2)
    proj_conv, proj_bn = block.proj[0], block.proj[1]
    ident = _literal_bn(feats.double() @ proj_conv.weight.double().t(),
                        proj_bn)
    expect = torch.relu(h + ident)
    assert torch.allclose(out.double(), expect, atol=1e-4)


@pytest.mark.parametrize('num_blocks,decoder_blocks', [(1, 1),
                                                       ((0, 1, 1), (1, 0))])
def test_unet_keeps_voxel_order_and_runs_backward_on_cpu(num_blocks,
                                                         decoder_blocks):
    torch.manual_seed(0)
    net = SparseUNet4D(in_channels=4, channels=(8, 16, 16),
                       num_blocks=num_blocks, decoder_blocks=decoder_blocks,
                       time_kernel=(3, 3, 1), temporal_strides=(2, 2))
    coors = _sites(300, shape=(10, 10, 6, 8))
    feats = torch.randn(len(coors), 4, requires_grad=True)
    out = net(feats, coors)
    assert out.shape == (len(coors), net.out_channels) == (len(coors), 8)
    out.square().mean().backward()
    layers = [m for m in net.modules() if isinstance(m, SparseConvolution)]
    assert layers and all(m.algo == ConvAlgo.Native for m in layers)
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert feats.grad.abs().sum() > 0

    # permuting the voxels permutes the output the same way (eval mode)
    net.eval()
    perm = torch.randperm(len(coors))
    with torch.no_grad():
        ref = net(feats, coors)
        permuted = net(feats[perm], coors[perm])
    assert torch.allclose(permuted, ref[perm], atol=1e-5)


@pytest.mark.parametrize('time_kernel,mixes', [((1, 1), False),
                                               ((3, 1), True)])
def test_time_axis_is_the_last_coordinate(time_kernel, mixes):
    """With time kernels of 1 and no temporal stride, scans never mix."""
    torch.manual_seed(0)
    net = SparseUNet4D(in_channels=2, channels=(4, 4), num_blocks=1,
                       time_kernel=time_kernel, temporal_strides=1).eval()
    coors = _sites(120, shape=(5, 5, 4, 3), batch=1)
    feats = torch.randn(len(coors), 2, requires_grad=True)
    out = net(feats, coors)
    current = coors[:, 4] == 0
    out[current].sum().backward()
    past_grad = feats.grad[~current].abs().sum()
    assert (past_grad > 0) == mixes


def test_bad_arguments_are_refused():
    kw = dict(channels=(4, 8), num_blocks=1, time_kernel=1,
              temporal_strides=2)
    with pytest.raises(ValueError, match='odd'):
        SparseUNet4D(**dict(kw, time_kernel=2))
    with pytest.raises(ValueError, match='temporal_strides'):
        SparseUNet4D(**dict(kw, temporal_strides=(3, )))
    with pytest.raises(ValueError, match='decoder_channels'):
        SparseUNet4D(**dict(kw, decoder_channels=(4, 4)))
    net = SparseUNet4D(in_channels=2, channels=(4, ), num_blocks=1,
                       time_kernel=1,
                       temporal_strides=())
    with pytest.raises(ValueError, match=r'\(V, 5\)'):
        net(torch.zeros(3, 2), torch.zeros(3, 4, dtype=torch.int32))

"""spconv on a CPU-only torch build, through set_spconv_algo."""
import pytest
import torch

from kdmos_plugin.utils import auto_spconv_algo, set_spconv_algo


def _minkunet():
    from mmdet3d.models.backbones import MinkUNetBackbone
    torch.manual_seed(0)
    return MinkUNetBackbone(
        in_channels=4, base_channels=8, num_stages=4,
        encoder_channels=[8, 16, 16, 32], decoder_channels=[32, 16, 16, 16],
        encoder_blocks=[1, 1, 1, 1], decoder_blocks=[1, 1, 1, 1],
        sparseconv_backend='spconv')


def _voxels(n=3000, seed=0):
    """(V, 4) features and (V, 4) int32 coors (batch, x, y, z), unique."""
    g = torch.Generator().manual_seed(seed)
    xyz = torch.randint(0, 40, (n, 3), generator=g)
    coors = torch.cat([torch.zeros(n, 1, dtype=torch.long), xyz], 1)
    coors = torch.unique(coors, dim=0).int()
    feats = torch.randn(len(coors), 4, generator=g)
    return feats, coors


def test_default_spconv_algorithms_fail_on_cpu():
    """The breakage: spconv's implicit GEMM needs CUDA."""
    if torch.cuda.is_available():
        pytest.fail('this check is for CPU-only builds; run it on one')
    net = _minkunet()
    feats, coors = _voxels()
    with pytest.raises((AssertionError, RuntimeError)):
        net(feats, coors)


def test_minkunet_spconv_forward_backward_on_cpu():
    net = _minkunet()
    n_layers = set_spconv_algo(net, 'cpu')
    assert n_layers > 10
    feats, coors = _voxels()
    out = net(feats, coors)
    assert out.shape == (len(coors), 16)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_auto_spconv_algo_follows_the_input_device():
    from spconv.core import ConvAlgo
    from spconv.pytorch.conv import SparseConvolution
    net = auto_spconv_algo(_minkunet())
    layers = [m for m in net.modules() if isinstance(m, SparseConvolution)]
    before = {m.algo for m in layers}
    assert ConvAlgo.Native not in before or len(before) > 1
    feats, coors = _voxels(n=500)
    net(feats, coors)
    assert {m.algo for m in layers} == {ConvAlgo.Native}
    set_spconv_algo(net, 'cuda')  # back to spconv's own choice
    assert {m.algo for m in layers} == before

"""PlainBEVUNet: the student backbone contract (appearance + motion in,
decoder features on the input grid out), against its blocks composed by
hand; gradients; errors."""
import pytest
import torch

from kdmos_plugin.models.backbones import PlainBEVUNet
from mmdet3d.registry import MODELS


def test_forward_equals_its_blocks_composed_by_hand():
    torch.manual_seed(0)
    net = PlainBEVUNet(in_channels=6, motion_channels=3,
                       channels=(8, 12, 16)).eval()
    assert net.out_channels == 8
    app, mot = torch.randn(2, 6, 20, 36), torch.randn(2, 3, 20, 36)
    with torch.no_grad():
        out = net(app, mot)
        e0 = net.inc(torch.cat([app, mot], 1))
        e1 = net.downs[0](e0)
        e2 = net.downs[1](e1)
        ref = net.ups[0](net.ups[1](e2, e1), e0)
    assert out.shape == (2, 8, 20, 36)
    assert torch.equal(out, ref)
    # the motion map reaches the output (no separate branch to lose it)
    with torch.no_grad():
        moved = net(app, mot + 1.0)
    assert (moved - out).abs().max() > 1e-3


def test_odd_grid_training_gradients_and_registry():
    torch.manual_seed(0)
    net = MODELS.build(dict(type='PlainBEVUNet', in_channels=4,
                            motion_channels=2, channels=(4, 8, 8, 8)))
    app = torch.randn(2, 4, 33, 45, requires_grad=True)
    out = net.train()(app, torch.randn(2, 2, 33, 45))
    assert out.shape == (2, 4, 33, 45)
    out.square().mean().backward()
    assert app.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())


def test_bad_inputs():
    net = PlainBEVUNet(in_channels=4, motion_channels=2, channels=(4, 8, 8))
    with pytest.raises(ValueError, match='at least 4x4'):
        net(torch.zeros(1, 4, 3, 8), torch.zeros(1, 2, 3, 8))
    with pytest.raises(ValueError, match='differ'):
        net(torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError, match='2 levels'):
        PlainBEVUNet(channels=(8, ))

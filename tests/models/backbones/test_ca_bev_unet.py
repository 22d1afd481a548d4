"""CA-BEV-UNet: published parameter counts (with the voxel encoder and the
head), decoder feature shapes."""
import pytest
import torch

from kdmos_plugin.models.backbones import CABEVUNet
from kdmos_plugin.models.decode_heads import BEVVoxelHead
from kdmos_plugin.models.voxel_encoders import BEVPointEncoder


def _params(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def _head():
    """The published head: 1x1 conv 32 -> 4 classes x 32 heights."""
    return BEVVoxelHead(channels=32, num_classes=4, grid_z=32)


def test_kdmos_parameter_count():
    """4 classes, DySample, unused attention kept, z = 32: 4,031,366."""
    net = CABEVUNet(upsample='dysample', with_unused_attention=True)
    assert net.out_channels == 32
    assert _params(_head()) == 32 * 128 + 128
    assert _params(BEVPointEncoder(), net, _head()) == 4031366
    buffers = sum(b.numel() for b in net.buffers()) + sum(
        b.numel() for b in BEVPointEncoder().buffers())
    assert buffers == 5894


def test_motionbev_parameter_count():
    net = CABEVUNet(upsample='deconv')
    assert _params(BEVPointEncoder(), net, _head()) == 4364518
    assert _params(net.up3.upsample, net.up2.upsample, net.up1.upsample,
                   net.up0.upsample) == 348640


def test_without_unused_attention():
    net = CABEVUNet(with_unused_attention=False)
    assert _params(BEVPointEncoder(), net, _head()) == 4031366 - 5512


def test_forward_shapes_on_odd_grid():
    torch.manual_seed(0)
    net = CABEVUNet(channels=(8, 8, 16, 16, 16),
                    motion_widths=(4, 4, 8, 8)).eval()
    app, mot = torch.randn(2, 32, 36, 45), torch.randn(2, 8, 36, 45)
    out = net(app, mot)
    assert out.shape == (2, 8, 36, 45)  # decoder features, no classifier
    net.train()
    out = net(app, mot)
    out.sum().backward()
    assert net.inc.conv.conv1[0].weight.grad is not None
    assert net.res_inc.conv.conv1[0].weight.grad is not None
    assert net.cag3.gate_conv.weight.grad is not None


def test_bad_inputs():
    net = CABEVUNet(channels=(8, 8, 16, 16, 16), motion_widths=(4, 4, 8, 8))
    with pytest.raises(ValueError, match='16x16'):
        net(torch.zeros(1, 32, 8, 40), torch.zeros(1, 8, 8, 40))
    with pytest.raises(ValueError, match='differ'):
        net(torch.zeros(1, 32, 16, 16), torch.zeros(1, 8, 16, 20))
    with pytest.raises(ValueError, match='upsample'):
        CABEVUNet(upsample='bilinear')

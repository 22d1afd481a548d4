"""BatchNorm folding and reduced precision of module trees."""
import copy

import pytest
import torch
from torch import nn

from kdmos_plugin.deploy import (Float32Island, fuse_conv_bn_,
                                 to_reduced_precision_)
from kdmos_plugin.deploy.fusion import (FusedCircularConvAct,
                                        FusedCoAttentionGate,
                                        conv_leaky_relu, fuse_conv_act_,
                                        fuse_gates_)
from kdmos_plugin.models.layers.co_attention_gate import CoAttentionGate
from kdmos_plugin.models.layers import CircularConvBNAct, DySample


def _random_bn(bn, gen):
    n = bn.num_features
    bn.running_mean.copy_(torch.randn(n, generator=gen))
    bn.running_var.copy_(torch.rand(n, generator=gen) + 0.3)
    bn.weight.data.copy_(torch.randn(n, generator=gen))
    bn.bias.data.copy_(torch.randn(n, generator=gen))


def test_fold_equals_literal_conv_then_batchnorm():
    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5),
                        nn.ReLU(), nn.Conv2d(5, 4, 1, bias=False),
                        nn.BatchNorm2d(4), nn.BatchNorm2d(4))
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            _random_bn(m, gen)
    net.eval()
    x = torch.randn(2, 3, 6, 7, generator=gen)
    # independent reference: the eval BatchNorm formula, written out
    def bn(m, y):
        shape = (1, -1, 1, 1)
        return (y - m.running_mean.view(shape)) / torch.sqrt(
            m.running_var.view(shape) + m.eps) * m.weight.view(shape) + \
            m.bias.view(shape)
    with torch.no_grad():
        ref = bn(net[5], bn(net[4], net[3](torch.relu(bn(net[1],
                                                         net[0](x))))))
        fused = copy.deepcopy(net)
        assert fuse_conv_bn_(fused) == 2
        assert isinstance(fused[1], nn.Identity)
        assert isinstance(fused[4], nn.Identity)
        # a BatchNorm after a BatchNorm is not folded
        assert isinstance(fused[5], nn.BatchNorm2d)
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=1e-5)


def test_fold_refuses_training_mode():
    with pytest.raises(RuntimeError, match='eval'):
        fuse_conv_bn_(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))


def test_fused_circular_block_keeps_its_output():
    gen = torch.Generator().manual_seed(1)
    block = CircularConvBNAct(4, 6)
    _random_bn(block[1], gen)
    block.eval()
    x = torch.randn(1, 4, 8, 10, generator=gen)
    with torch.no_grad():
        # literal: circular pad copy, conv, BN, LeakyReLU
        padded = torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)
        ref = block[2](block[1](block[0](padded)))
        fused = copy.deepcopy(block)
        assert fuse_conv_bn_(fused) == 1
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=1e-5)
        fused.fuse_eval = False  # the literal path of the folded block
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=1e-5)


def test_conv_act_fusion_equals_the_literal_block():
    """The oneDNN post-op path and the fallback give the literal
    pad -> conv -> BN -> LeakyReLU, in a module tree (the gate reads
    ``fuse_eval``), float32 and bf16 channels_last."""
    gen = torch.Generator().manual_seed(2)
    net = nn.Sequential(CircularConvBNAct(4, 6), nn.Conv2d(6, 6, 1),
                        CircularConvBNAct(6, 3))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            _random_bn(m, gen)
    net.eval()
    x = torch.randn(2, 4, 8, 10, generator=gen)

    def literal(block, y):
        padded = torch.cat([y[..., -1:], y, y[..., :1]], dim=-1)
        return block[2](block[1](block[0](padded)))

    with torch.no_grad():
        ref = literal(net[2], net[1](literal(net[0], x)))
        fused = copy.deepcopy(net)
        assert fuse_conv_act_(fused) == 2
        assert all(isinstance(fused[i], FusedCircularConvAct) for i in (0, 2))
        assert fused[0].fuse_eval
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=1e-5)
        # the fallback (two calls) used in ONNX traces and off CPU
        weight, bias = fused[0].weight, fused[0].bias
        two = torch.nn.functional.leaky_relu(
            torch.nn.functional.conv2d(x, weight, bias, padding=1), 0.01)
        torch.testing.assert_close(
            conv_leaky_relu(x, weight, bias, [1, 1], 0.01), two,
            rtol=1e-6, atol=1e-6)
        low = to_reduced_precision_(fused, torch.bfloat16)
        out = low(x.to(torch.bfloat16).contiguous(
            memory_format=torch.channels_last))
        assert out.dtype == torch.bfloat16
        torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    with pytest.raises(RuntimeError, match='eval'):
        fuse_conv_act_(CircularConvBNAct(1, 1))


def test_fused_gate_equals_the_module():
    """Fewer passes, the same co-attention gate (batch of 2: the gate
    scores differ per sample), with non-trivial attention weights."""
    gen = torch.Generator().manual_seed(3)
    holder = nn.Module()
    holder.gate = CoAttentionGate(6, 4, hidden_channels=5)
    for p in holder.parameters():
        p.data.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    _random_bn(holder.gate.fuse_conv[1], gen)
    holder.eval()
    f_a = torch.randn(2, 6, 8, 10, generator=gen)
    f_m = torch.randn(2, 4, 8, 10, generator=gen)
    with torch.no_grad():
        ref = holder.gate(f_a, f_m)
        assert fuse_gates_(holder) == 1
        assert isinstance(holder.gate, FusedCoAttentionGate)
        torch.testing.assert_close(holder.gate(f_a, f_m), ref, rtol=1e-5,
                                   atol=1e-5)
    with pytest.raises(RuntimeError, match='eval'):
        fuse_gates_(CoAttentionGate(2, 2))


def test_reduced_precision_keeps_named_modules_in_float32():
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), DySample(8),
                        nn.Conv2d(8, 2, 1))
    net.eval()
    x = torch.randn(1, 8, 12, 10)
    with torch.no_grad():
        ref = net(x)
        low = to_reduced_precision_(copy.deepcopy(net), torch.bfloat16)
        assert isinstance(low[1], Float32Island)
        assert low[1].module.offset.weight.dtype == torch.float32
        assert low[0].weight.dtype == torch.bfloat16
        assert low[0].weight.is_contiguous(memory_format=torch.channels_last)
        xb = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        out = low(xb)
        assert out.dtype == torch.bfloat16
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)

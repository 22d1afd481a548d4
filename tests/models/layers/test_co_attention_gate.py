"""Co-attention gate against the formula of docs/METHOD.md 2.2."""
import torch
import torch.nn.functional as F

from kdmos_plugin.models.layers import CoAttentionGate


def _literal_cag(cag, f_a, f_m):
    fuse_conv, fuse_bn = cag.fuse_conv[0], cag.fuse_conv[1]
    x = torch.cat([f_a, f_m], 1)
    x = torch.cat([x[..., -1:], x, x[..., :1]], 3)  # circular in phi
    g = F.conv2d(x, fuse_conv.weight, fuse_conv.bias, padding=(1, 0))
    g = F.batch_norm(g, fuse_bn.running_mean, fuse_bn.running_var,
                     fuse_bn.weight, fuse_bn.bias, False, 0.0, fuse_bn.eps)
    g = F.leaky_relu(g, 0.01)
    g = torch.cat([g[..., -1:], g, g[..., :1]], 3)
    g = F.conv2d(g, cag.gate_conv.weight, cag.gate_conv.bias, padding=(1, 0))
    s = torch.sigmoid(g)
    out = torch.empty_like(f_a)
    for b in range(f_a.shape[0]):
        s_a, s_m = s[b, 0].mean(), s[b, 1].mean()
        ga, gm = s_a * f_a[b], s_m * f_m[b]
        sp = torch.sigmoid(
            torch.einsum('chw,c->hw', gm, cag.mga.spatial_conv.weight[0, :, 0,
                                                                      0]) +
            cag.mga.spatial_conv.bias[0])
        xa = sp * ga
        v = cag.mga.channel_conv.weight[:, :, 0, 0] @ xa.mean((1, 2)) + \
            cag.mga.channel_conv.bias
        v = torch.softmax(v, 0) * f_a.shape[1]
        out[b] = xa * v[:, None, None] + ga
    return out


def test_matches_literal_formula():
    torch.manual_seed(0)
    cag = CoAttentionGate(8, 4).eval()
    for p in cag.parameters():
        torch.nn.init.normal_(p, std=0.3)
    f_a, f_m = torch.randn(2, 8, 6, 7), torch.randn(2, 4, 6, 7)
    with torch.no_grad():
        torch.testing.assert_close(cag(f_a, f_m), _literal_cag(cag, f_a, f_m),
                                   atol=1e-5, rtol=1e-5)


def test_unused_attention_only_adds_parameters():
    torch.manual_seed(0)
    plain = CoAttentionGate(32, 16).eval()
    torch.manual_seed(0)
    full = CoAttentionGate(32, 16, with_unused_attention=True).eval()
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(full) - n(plain) == 16 * 16 // 4 + 18
    assert n(plain) == 15571  # CAG0 of the published network, used part
    full.load_state_dict(plain.state_dict(), strict=False)
    f_a, f_m = torch.randn(1, 32, 5, 6), torch.randn(1, 16, 5, 6)
    torch.testing.assert_close(full(f_a, f_m), plain(f_a, f_m))

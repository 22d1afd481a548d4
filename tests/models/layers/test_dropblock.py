"""DropBlock2D against a literal mask construction."""
import torch

from kdmos_plugin.models.layers import DropBlock2D


def _literal_block_mask(seeds, k):
    b, h, w = seeds.shape
    mask = torch.ones(b, h, w)
    for bi, y, x in seeds.nonzero().tolist():
        for yy in range(y - k // 2, y - k // 2 + k):
            for xx in range(x - k // 2, x - k // 2 + k):
                if 0 <= yy < h and 0 <= xx < w:
                    mask[bi, yy, xx] = 0
    return mask


def test_eval_is_identity():
    drop = DropBlock2D(7, 0.5).eval()
    x = torch.randn(2, 3, 10, 10)
    assert drop(x) is x


def test_block_mask_matches_literal():
    torch.manual_seed(0)
    for k in (3, 7):
        drop = DropBlock2D(k, 0.5)
        seeds = (torch.rand(2, 12, 15) < 0.05).float()
        torch.testing.assert_close(drop.block_mask(seeds),
                                   _literal_block_mask(seeds, k))


def test_training_output_is_masked_and_rescaled():
    torch.manual_seed(3)
    drop = DropBlock2D(7, 0.5).train()
    x = torch.ones(2, 4, 40, 40)
    out = drop(x)
    mask = (out[:, 0] != 0).float()
    # the mask is shared over channels
    for c in range(1, 4):
        torch.testing.assert_close((out[:, c] != 0).float(), mask)
    kept = mask.sum()
    assert 0 < kept < mask.numel()
    torch.testing.assert_close(out[:, 0][mask.bool()],
                               torch.full((int(kept), ),
                                          mask.numel() / float(kept)))

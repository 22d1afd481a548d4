"""DropBlock2D (Ghiasi et al., NeurIPS 2018) without a schedule."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DropBlock2D(nn.Module):
    """Drop square blocks of a feature map, shared over the channels.

    Training only (identity in eval mode or with ``drop_prob == 0``). Block
    centres are seeded with probability ``gamma = drop_prob / block_size**2``
    per pixel; every pixel within ``block_size // 2`` of a seed (a
    ``block_size`` square, clipped at the borders) is zeroed, one mask per
    sample for all channels, and the output is rescaled by
    ``mask.numel() / mask.sum()`` (the kept fraction over the whole batch).
    This is the published setting (block 7, p 0.5, no scheduler), see
    docs/METHOD.md section 2.2, decoder step 5.

    Args:
        block_size (int): Side of the dropped squares in pixels.
        drop_prob (float): Drop probability before the block correction.
    """

    def __init__(self, block_size: int = 7, drop_prob: float = 0.5) -> None:
        super().__init__()
        if block_size < 1 or not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f'DropBlock2D: invalid block_size={block_size} '
                             f'or drop_prob={drop_prob}')
        self.block_size = block_size
        self.drop_prob = drop_prob

    def block_mask(self, seeds: Tensor) -> Tensor:
        """Keep-mask (B, H, W) in {0, 1} from seed indicators (B, H, W)."""
        k = self.block_size
        dropped = F.max_pool2d(seeds[:, None], kernel_size=k, stride=1,
                               padding=k // 2)
        if k % 2 == 0:  # even kernels grow the map by one row and column
            dropped = dropped[:, :, :-1, :-1]
        return 1.0 - dropped[:, 0]

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        if not self.training or self.drop_prob == 0.0:
            return x
        gamma = self.drop_prob / self.block_size**2
        seeds = (torch.rand(x.shape[0], *x.shape[2:], device=x.device) <
                 gamma).to(x.dtype)
        mask = self.block_mask(seeds)
        kept = mask.sum()
        scale = mask.numel() / kept.clamp(min=1.0)
        return x * mask[:, None] * scale

    def extra_repr(self) -> str:
        return f'block_size={self.block_size}, drop_prob={self.drop_prob}'

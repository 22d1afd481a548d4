"""Lovasz-softmax loss (Berman et al., CVPR 2018), flattened over a batch."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS


def lovasz_grad(gt_sorted: Tensor) -> Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss, per column.

    Args:
        gt_sorted (Tensor): (N, K) float {0, 1} foreground indicators of K
            classes, each column sorted by decreasing error.

    Returns:
        Tensor: (N, K) ``J(1..i) - J(1..i-1)`` with ``J`` the Jaccard loss
        of the first ``i`` elements predicted foreground.
    """
    gts = gt_sorted.sum(dim=0, keepdim=True)
    intersection = gts - gt_sorted.cumsum(dim=0)
    union = gts + (1.0 - gt_sorted).cumsum(dim=0)
    jaccard = 1.0 - intersection / union
    if gt_sorted.shape[0] > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]], dim=0)
    return jaccard


def lovasz_softmax_flat(probs: Tensor, labels: Tensor,
                        classes: Union[str, Sequence[int]] = 'present'
                        ) -> Tensor:
    """Lovasz-softmax of flattened probabilities (no ignored elements).

    Args:
        probs (Tensor): (N, C) class probabilities.
        labels (Tensor): (N,) int64 ground-truth classes.
        classes: ``'present'`` averages over the classes that occur in
            ``labels``, ``'all'`` over all C classes, or a list of class ids.

    Returns:
        Tensor: scalar loss; 0 (with a graph) when nothing is averaged.
    """
    if probs.numel() == 0:
        return probs.sum() * 0.0
    num_classes = probs.shape[1]
    fg = nn.functional.one_hot(labels, num_classes).to(probs.dtype)
    errors = (fg - probs).abs()
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    fg_sorted = fg.gather(0, perm)
    per_class = (errors_sorted * lovasz_grad(fg_sorted)).sum(dim=0)  # (C,)
    if classes == 'present':
        keep = fg.sum(dim=0) > 0
    elif classes == 'all':
        keep = torch.ones_like(per_class, dtype=torch.bool)
    else:
        keep = torch.zeros_like(per_class, dtype=torch.bool)
        keep[list(classes)] = True
    if not bool(keep.any()):
        return probs.sum() * 0.0
    return per_class[keep].mean()


@MODELS.register_module()
class LovaszSoftmaxLoss(nn.Module):
    """Lovasz-softmax loss over all non-ignored elements of a batch.

    All elements of the batch are flattened together (not averaged per
    sample), as in KDMOS: ``L = mean_{c present} <sort(|fg_c - p_c|), grad>``.

    Args:
        classes: ``'present'`` (default), ``'all'`` or a list of class ids.
        ignore_index (int, optional): Label excluded from the loss.
        use_softmax (bool): Apply softmax over the class dim of the input
            (logits in); False takes probabilities.
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key of the loss in a loss dict.

    Example:
        >>> loss = LovaszSoftmaxLoss(ignore_index=0)
        >>> loss(torch.randn(100, 4), torch.randint(0, 4, (100,)))
    """

    def __init__(self,
                 classes: Union[str, Sequence[int]] = 'present',
                 ignore_index: Optional[int] = 0,
                 use_softmax: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_lovasz') -> None:
        super().__init__()
        if isinstance(classes, str) and classes not in ('present', 'all'):
            raise ValueError(f"LovaszSoftmaxLoss: classes must be 'present', "
                             f"'all' or a list of ids, got {classes!r}")
        self.classes = classes
        self.ignore_index = ignore_index
        self.use_softmax = use_softmax
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Key of the loss in a loss dict."""
        return self._loss_name

    def forward(self, cls_score: Tensor, label: Tensor,
                weight: Optional[Tensor] = None, **kwargs) -> Tensor:
        """Loss of a batch.

        Args:
            cls_score (Tensor): (N, C) or (B, C, d1, ...) logits (or
                probabilities with ``use_softmax=False``).
            label (Tensor): (N,) or (B, d1, ...) int64 labels.
            weight (Tensor, optional): Unsupported; must be None.

        Returns:
            Tensor: scalar ``loss_weight * lovasz``.
        """
        if weight is not None:
            raise ValueError('LovaszSoftmaxLoss: per-element weights are not '
                             'supported')
        if cls_score.dim() > 2:
            cls_score = cls_score.movedim(1, -1).reshape(
                -1, cls_score.shape[1])
        label = label.reshape(-1)
        if label.shape[0] != cls_score.shape[0]:
            raise ValueError(f'LovaszSoftmaxLoss: {cls_score.shape[0]} '
                             f'scores but {label.shape[0]} labels')
        probs = cls_score.softmax(dim=1) if self.use_softmax else cls_score
        if self.ignore_index is not None:
            valid = label != self.ignore_index
            probs, label = probs[valid], label[valid]
        return self.loss_weight * lovasz_softmax_flat(
            probs, label.long(), self.classes)

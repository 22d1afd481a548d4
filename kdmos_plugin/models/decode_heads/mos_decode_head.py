"""The common part of the MOS decode heads: classifier and its losses."""
from typing import Dict, Optional

from torch import Tensor

from mmdet3d.models.decode_heads.decode_head import Base3DDecodeHead
from mmdet3d.registry import MODELS


class MOSDecodeHead(Base3DDecodeHead):
    """mmdet3d's ``Base3DDecodeHead`` with the two MOS losses.

    ::

        loss():    forward(feats) -> loss_by_feat()
        predict(): forward(feats) -> predict_by_feat()
        both:      conv_seg(dropout(x)), then seg_losses(logits, labels)
                   = loss_decode (CE) + loss_lovasz, label ignore_index left
                   out

    Subclasses set ``conv_seg`` (``build_conv_seg``) and say where the
    logits are read. The classifier keeps PyTorch's default initialisation
    (as the published networks), not mmdet3d's ``normal_init(std=0.01)``,
    so a model trained from scratch starts where it always did.

    Args:
        channels (int): Input feature channels K (the backbone's output).
        num_classes (int): Classes C incl. the ignored class 0.
        dropout_ratio (float): Dropout before ``conv_seg`` (0: none).
        ignore_index (int): Label left out by both losses.
        loss_decode (dict): Cross-entropy config, mmdet3d's name; its loss
            is logged as ``loss_ce``.
        loss_lovasz (dict, optional): Lovasz-softmax config (``loss_lovasz``
            in the log); its ``ignore_index`` defaults to ours. None: CE
            only.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 channels: int,
                 num_classes: int = 4,
                 dropout_ratio: float = 0.0,
                 ignore_index: int = 0,
                 loss_decode: dict = dict(
                     type='mmdet.CrossEntropyLoss',
                     use_sigmoid=False,
                     avg_non_ignore=True,
                     loss_weight=1.0),
                 loss_lovasz: Optional[dict] = dict(
                     type='LovaszSoftmaxLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            channels=channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            loss_decode=loss_decode,
            ignore_index=ignore_index,
            init_cfg=init_cfg,
            **kwargs)
        self.loss_lovasz = None
        if loss_lovasz is not None:
            loss_lovasz = dict(loss_lovasz)
            loss_lovasz.setdefault('ignore_index', ignore_index)
            self.loss_lovasz = MODELS.build(loss_lovasz)

    def init_weights(self) -> None:
        """Run ``init_cfg`` only; ``conv_seg`` keeps its default init."""
        super(Base3DDecodeHead, self).init_weights()

    def seg_losses(self, logits: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """CE and Lovasz of (M, C) logits against (M,) int64 labels.

        Returns:
            dict: ``loss_ce`` and, if configured, ``loss_lovasz`` scalars.
        """
        losses = dict(loss_ce=self.loss_decode(
            logits, labels, ignore_index=self.ignore_index))
        if self.loss_lovasz is not None:
            losses['loss_lovasz'] = self.loss_lovasz(logits, labels)
        return losses

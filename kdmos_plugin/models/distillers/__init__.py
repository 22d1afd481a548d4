"""Distillers: the KD algorithm around any segmentor with per-point logits."""
from .mos_distiller import MOSDistiller  # noqa: F401
from .seg3d_adapter import MinkUNetAdapter, as_mos_segmentor  # noqa: F401

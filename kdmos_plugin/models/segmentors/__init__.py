from .base_mos_segmentor import BaseMOSSegmentor

__all__ = ['BaseMOSSegmentor']

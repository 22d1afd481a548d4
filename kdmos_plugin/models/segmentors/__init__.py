from .base_mos_segmentor import BaseMOSSegmentor

__all__ = ['BaseMOSSegmentor']
from .sparse4d_mos_teacher import Sparse4DMOSTeacher  # noqa: E402
__all__ += ['Sparse4DMOSTeacher']

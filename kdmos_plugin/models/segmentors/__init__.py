from .base_mos_segmentor import BaseMOSSegmentor

__all__ = ['BaseMOSSegmentor']
from .sparse4d_mos_teacher import Sparse4DMOSTeacher  # noqa: E402
__all__ += ['Sparse4DMOSTeacher']
from .kdmos_student import KDMOSStudent, head_logits_at_cells  # noqa: E402
from .reference_ckpt import (convert_reference_checkpoint,  # noqa: E402
                             convert_reference_state_dict,
                             to_reference_state_dict)
__all__ += ['KDMOSStudent', 'head_logits_at_cells',
            'convert_reference_checkpoint', 'convert_reference_state_dict',
            'to_reference_state_dict']

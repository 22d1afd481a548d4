"""BEV pictures of scans, labels and predictions, and animations."""
from .animation import add_caption, save_gif
from .bev import (ERROR_COLORS, MOS_COLORS, BEVGrid, frame_picture,
                  raw_to_mos, render_bev, render_errors, save_png,
                  side_by_side)

__all__ = [
    'add_caption', 'save_gif', 'ERROR_COLORS', 'MOS_COLORS', 'BEVGrid', 'frame_picture', 'raw_to_mos',
    'render_bev', 'render_errors', 'save_png', 'side_by_side'
]

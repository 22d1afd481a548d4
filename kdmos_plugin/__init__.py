"""kdmos_plugin: KDMOS moving-object segmentation for MMDetection3D.

Importing the package registers every dataset, transform, model, loss,
learning-rate scheduler and metric into mmdet3d's registries (scope
``mmdet3d``), so configs can use them by type name after
``custom_imports=dict(imports=['kdmos_plugin'])``.
"""
from .utils import compat  # noqa: F401  (stack fixes before anything else)
from .utils import spconv_algo  # noqa: F401  (imports spconv quietly first)
from . import (datasets, engine, evaluation, models,  # noqa: F401
               sources, visualization)

__version__ = '0.1.0'

"""distillers of kdmos_plugin."""
from .mos_distiller import MOSDistiller  # noqa: F401

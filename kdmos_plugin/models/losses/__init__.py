"""losses of kdmos_plugin."""
from .decoupled_mos_distill_loss import DecoupledMOSDistillLoss  # noqa: F401

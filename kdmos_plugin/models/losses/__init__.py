"""losses of kdmos_plugin."""
from .decoupled_mos_distill_loss import DecoupledMOSDistillLoss  # noqa: F401
from .lovasz_softmax_loss import LovaszSoftmaxLoss  # noqa: F401

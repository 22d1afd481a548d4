"""Exponential learning-rate decay whose ``gamma`` is per epoch."""
from mmengine.optim.scheduler.lr_scheduler import ExponentialLR

from mmdet3d.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class EpochExponentialLR(ExponentialLR):
    """``lr x gamma`` per epoch, also when applied at every iteration.

    mmengine's ``ExponentialLR`` keeps ``gamma`` per *step* when it is
    converted to iterations (``convert_to_iter_based=True``), so a config
    had to hard-code ``gamma ** (1 / iterations_per_epoch)`` and was wrong
    for any other dataset size, batch or number of GPUs. Here the
    conversion takes ``gamma ** (1 / epoch_length)`` with the epoch length
    the Runner measures from the train dataloader: the lr after ``e``
    epochs (or ``t`` iterations) since ``begin`` is ``lr0 * gamma ** e``
    (``lr0 * gamma ** (t / epoch_length)``). Epoch-based stepping
    (no conversion) is mmengine's ``ExponentialLR`` unchanged.

    Args:
        gamma (float): Factor of decay per epoch, e.g. 0.99 (docs/METHOD.md
            5.1: x0.99 an epoch, applied smoothly at every iteration).
        Other arguments: as ``mmengine.optim.ExponentialLR``.
    """

    @classmethod
    def build_iter_from_epoch(cls, *args, gamma: float, epoch_length=None,
                              **kwargs) -> 'EpochExponentialLR':
        """The iteration-based scheduler of an epoch-based config."""
        if epoch_length is None or epoch_length <= 0:
            raise ValueError(
                'EpochExponentialLR: convert_to_iter_based needs a positive '
                f'epoch_length (iterations an epoch), got {epoch_length}')
        return super().build_iter_from_epoch(
            *args, gamma=gamma**(1.0 / epoch_length),
            epoch_length=epoch_length, **kwargs)

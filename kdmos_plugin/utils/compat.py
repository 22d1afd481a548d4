"""Fixes that let mmengine 0.10 / mmcv 2.1 / mmdet 3.3 / mmdet3d 1.4 run on
torch >= 2.6 and numpy 2, applied once when ``kdmos_plugin`` is imported.

Each fix is small, idempotent, and has a test in ``tests/utils/test_compat.py``
that fails without it. Nothing in site-packages is edited.

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6 and
   mmengine 0.10.7's local checkpoint loader passes nothing, so resuming a
   Runner checkpoint (numpy arrays and ``HistoryBuffer`` objects in its meta)
   raises ``UnpicklingError``. :func:`load_from_local` replaces mmengine's
   loader for local files: it keeps ``weights_only=True`` and allow-lists
   exactly the globals a Runner checkpoint holds (:data:`SAFE_GLOBALS`).
   Set ``KDMOS_UNSAFE_CHECKPOINTS=1`` to load a file you trust that needs
   more (it then loads with ``weights_only=False``).
2. mmengine's ``HistoryBuffer.__getstate__`` stores its statistics functions
   as ``getattr(HistoryBuffer, 'min')`` references; allowing ``getattr`` in
   the unpickler would make ``weights_only`` pointless. The built-in
   statistics are re-created on load anyway, so only custom-registered ones
   are pickled (:func:`_history_buffer_getstate`).
3. For the same reason, parameter schedulers no longer put functions in
   their state dicts: ``OneCycleParamScheduler`` stored its ``anneal_func``
   (``getattr(OneCycleParamScheduler, '_annealing_cos')`` in the pickle).
   Functions are set by the constructor from the config, which builds the
   scheduler again before a resume (:func:`_scheduler_state_dict`).
4. mmengine's ``pytorch`` and ``slurm`` launchers call
   ``torch.cuda.set_device`` unconditionally, which fails on a CPU-only torch
   build, so ``tools/dist_train.sh`` could not start on CPUs (gloo). Without
   CUDA the call is skipped for the duration of the launcher's set-up
   (:func:`_cpu_safe_launcher`).
"""
import functools
import os
import os.path as osp
import pickle
from typing import Any, Callable, List

import numpy as np
import mmengine.dist.utils as mmengine_dist_utils
import torch
from mmengine.logging import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler
from mmengine.runner.checkpoint import CheckpointLoader

UNSAFE_ENV = 'KDMOS_UNSAFE_CHECKPOINTS'

_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _numpy_globals() -> List[Any]:
    """numpy objects that a pickled ndarray / scalar / dtype refers to."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 / numpy 1
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct,
             core.multiarray.scalar]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25 dtype classes
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes)
                  if n.endswith('DType') and isinstance(getattr(dtypes, n),
                                                         type)]
    return found


#: Globals allowed when loading a checkpoint with ``weights_only=True``.
SAFE_GLOBALS: List[Any] = [HistoryBuffer, bytes] + _numpy_globals()


def load_from_local(filename: str, map_location=None) -> Any:
    """Load a local checkpoint with ``weights_only=True`` and our allow-list.

    Registered as mmengine's loader for paths without a URL prefix (the
    function keeps mmengine's name, which mmengine prints when it loads).

    Args:
        filename (str): Path of the checkpoint file.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        RuntimeError: The file holds objects outside the allow-list, naming
            the file and the environment variable that permits it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    _check_checkpoint_file(filename)
    try:
        if os.environ.get(UNSAFE_ENV) == '1':
            return torch.load(filename, map_location=map_location,
                              weights_only=False)
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(
            f'{filename}: refusing to unpickle objects outside the '
            f'checkpoint allow-list ({exc}). If you trust this file, set '
            f'{UNSAFE_ENV}=1 to load it with weights_only=False.') from exc
    except (EOFError, RuntimeError) as exc:  # truncated zip or pickle
        if isinstance(exc, RuntimeError) and \
                'PytorchStreamReader' not in str(exc):
            raise
        raise CorruptCheckpointError(
            f'{filename}: truncated or corrupt checkpoint '
            f'({type(exc).__name__}: {exc}); was its saving interrupted?'
        ) from exc


class CorruptCheckpointError(ValueError):
    """A checkpoint file is empty, truncated or not a checkpoint."""


#: How the files ``torch.save`` writes begin: a zip archive (torch >= 1.6)
#: or a pickle of protocol 2+ (the legacy format).
_CHECKPOINT_MAGIC = (b'PK\x03\x04', b'\x80')


def _check_checkpoint_file(filename: str) -> None:
    """Refuse an empty file, or one that is neither format ``torch.save``
    writes, naming it (``torch.load`` would raise a bare ``EOFError``)."""
    size = osp.getsize(filename)
    if size == 0:
        raise CorruptCheckpointError(
            f'{filename}: empty file (0 bytes), not a checkpoint; was its '
            f'saving interrupted?')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not head.startswith(_CHECKPOINT_MAGIC):
        raise CorruptCheckpointError(
            f'{filename}: not a PyTorch checkpoint ({size} bytes starting '
            f'with {head!r}; torch.save writes a zip archive)')


def _history_buffer_getstate(self: HistoryBuffer) -> dict:
    """``HistoryBuffer`` state without references to its built-in methods."""
    state = self.__dict__.copy()
    state.pop('statistics_methods', None)
    custom = {
        name: fn
        for name, fn in self._statistics_methods.items()
        if name not in _BUILTIN_STATISTICS
    }
    if custom:
        state['statistics_methods'] = custom
    return state


def _scheduler_state_dict(self: _ParamScheduler) -> dict:
    """A scheduler's state without the optimizer and without functions."""
    return {
        key: value
        for key, value in self.__dict__.items()
        if key != 'optimizer' and not callable(value)
    }


def _cpu_safe_launcher(init_fn: Callable) -> Callable:
    """Run an mmengine launcher set-up without ``torch.cuda.set_device``
    when CUDA is not available (no-op wrapper otherwise)."""
    if getattr(init_fn, '_kdmos_cpu_safe', False):
        return init_fn

    @functools.wraps(init_fn)
    def wrapper(*args, **kwargs):
        if torch.cuda.is_available():
            return init_fn(*args, **kwargs)
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None
        try:
            return init_fn(*args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    wrapper._kdmos_cpu_safe = True
    return wrapper


def apply() -> None:
    """Apply every fix (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    _ParamScheduler.state_dict = _scheduler_state_dict
    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        setattr(mmengine_dist_utils, name,
                _cpu_safe_launcher(getattr(mmengine_dist_utils, name)))


def is_applied() -> bool:
    """Whether :func:`apply` is in effect."""
    loader: Callable = CheckpointLoader._get_checkpoint_loader('model.pth')
    return (loader is load_from_local
            and HistoryBuffer.__getstate__ is _history_buffer_getstate
            and _ParamScheduler.state_dict is _scheduler_state_dict
            and getattr(mmengine_dist_utils._init_dist_pytorch,
                        '_kdmos_cpu_safe', False))


apply()

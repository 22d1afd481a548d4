"""Read pickles and .npy files that may only hold data, never code.

``pickle.load`` (and ``mmengine.load`` of a ``.pkl``) calls whatever the file
names: a downloaded info file can run its author's code. :func:`load_data_pickle`
admits plain containers and numbers (dict, list, tuple, set, str, bytes, int,
float, bool, None, ``OrderedDict``) and numpy arrays, dtypes and scalars as
data; any other global in the stream is refused before it is called, with an
error naming the file and the global. :func:`load_npy` reads a ``.npy``
with ``allow_pickle=False`` and names the file when it is not a plain
numeric array (a pickle, an object array, truncated, garbage).

>>> infos = load_data_pickle('semantickitti_mos_infos_train.pkl')
"""
import io
import os
import pickle
from typing import Any, FrozenSet, Tuple

import numpy as np

#: ``(module, name)`` globals a data pickle may name. Protocol 2 names the
#: builtins ``__builtin__`` (Python 2's name) and stores the bytes of an
#: array through ``_codecs.encode``; protocol 5 rebuilds a contiguous array
#: with ``numeric._frombuffer``; numpy 1 pickles say ``numpy.core``, numpy 2
#: ``numpy._core``.
DATA_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [(mod, n) for mod in ('builtins', '__builtin__')
     for n in ('set', 'frozenset', 'bytearray', 'complex', 'list', 'dict',
               'tuple', 'str', 'bytes', 'int', 'float', 'bool')] +
    [('collections', 'OrderedDict'), ('_codecs', 'encode'),
     ('numpy', 'ndarray'), ('numpy', 'dtype')] +
    [(f'numpy.{core}.multiarray', n) for core in ('core', '_core')
     for n in ('_reconstruct', 'scalar')] +
    [(f'numpy.{core}.numeric', '_frombuffer') for core in ('core', '_core')])


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`DATA_GLOBALS`."""


class _DataUnpickler(pickle.Unpickler):

    def __init__(self, file, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        allowed = (module, name) in DATA_GLOBALS or (
            module == 'numpy.dtypes' and name.endswith('DType'))
        if not allowed:
            raise UnsafePickleError(
                f'{self._source}: refusing to unpickle {module}.{name}: this '
                f'file may hold data only (dicts, lists, strings, numbers, '
                f'numpy arrays), and loading it would call code named by the '
                f'file')
        return super().find_class(module, name)


def load_data_pickle(path: str) -> Any:
    """Unpickle ``path`` admitting data only (module docstring).

    Args:
        path (str): The pickle file.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: No such file.
        UnsafePickleError: The file names a global that is not data.
        pickle.UnpicklingError: Not a pickle, or truncated (the message
            names the file).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'file not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return _DataUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError) as err:
        raise pickle.UnpicklingError(
            f'{path}: not a readable pickle ({type(err).__name__}: '
            f'{err})') from err


class NpyFormatError(ValueError):
    """A ``.npy`` file is not a readable numeric array."""


def load_npy(path: str) -> np.ndarray:
    """Read a ``.npy`` array as data: ``allow_pickle=False`` (an object
    array or a pickle named ``.npy`` is refused, never unpickled), with
    an error naming the file for a truncated or garbage file.

    Args:
        path (str): The ``.npy`` file.

    Returns:
        np.ndarray: The array (numeric, never of dtype object).

    Raises:
        FileNotFoundError: No such file.
        NpyFormatError: Not a ``.npy`` of plain numbers: a pickle, an
            object array, truncated or garbage.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'file not found: {path}')
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(6)
        if head != b'\x93NUMPY':
            why = (f'not a .npy file ({size} bytes starting with {head!r}; '
                   f'a pickle or another format is never loaded)')
        elif 'allow_pickle' in str(err):
            why = 'holds Python objects (dtype object), not numbers'
        else:
            why = f'truncated or corrupt .npy ({size} bytes: {err})'
        raise NpyFormatError(f'{path}: {why}') from None
    if not isinstance(arr, np.ndarray):  # an .npz archive
        raise NpyFormatError(f'{path}: an .npz archive, not one .npy array')
    return arr

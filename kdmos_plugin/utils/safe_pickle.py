"""Read a pickle that may only hold data, never code.

``pickle.load`` (and ``mmengine.load`` of a ``.pkl``) calls whatever the file
names: a downloaded info file can run its author's code. :func:`load_data_pickle`
admits plain containers and numbers (dict, list, tuple, set, str, bytes, int,
float, bool, None, ``OrderedDict``) and numpy arrays, dtypes and scalars as
data; any other global in the stream is refused before it is called, with an
error naming the file and the global.

>>> infos = load_data_pickle('semantickitti_mos_infos_train.pkl')
"""
import io
import os
import pickle
from typing import Any, FrozenSet, Tuple

#: ``(module, name)`` globals a data pickle may name. numpy 1 pickles say
#: ``numpy.core``, numpy 2 ``numpy._core``; ``_codecs.encode`` is how
#: protocol 2 stores the bytes of an array.
DATA_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [('builtins', n) for n in ('set', 'frozenset', 'bytearray', 'complex',
                               'list', 'dict', 'tuple', 'str', 'bytes',
                               'int', 'float', 'bool')] +
    [('collections', 'OrderedDict'), ('_codecs', 'encode'),
     ('numpy', 'ndarray'), ('numpy', 'dtype')] +
    [(f'numpy.{core}.multiarray', n) for core in ('core', '_core')
     for n in ('_reconstruct', 'scalar')])


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

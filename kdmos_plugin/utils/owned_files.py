"""Write into a folder without replacing or deleting anyone else's files.

Every tool of this package that writes into a folder a user names
(``tools/infer.py --out``, ``tools/test.py --submit``,
``tools/create_data.py``, ``tools/make_synthetic_data.py``) first *claims*
its output files here. The folder's ledger ``.kdmos_written.json`` lists the
files (or, for a submission folder, the file patterns) this package wrote
there; a file that exists and is not in the ledger belongs to the user and
is never replaced (unless the caller passes ``overwrite``, e.g. the
``--overwrite`` flag) nor deleted. The ledger is written before the files
(atomically), so a run killed half-way still owns what it wrote and a rerun
continues.

>>> claim_files('my_labels', ['000000.label', '000001.label'],
...             hint='pass --overwrite to replace them')
>>> start_clean('submission', ['sequences/*/predictions/*.label'])
"""
import fnmatch
import json
import os
import os.path as osp
from typing import Iterable, List, Sequence

from .atomic_files import write_text_atomic

#: The ledger file at the root of an output folder.
LEDGER_NAME = '.kdmos_written.json'


class ForeignFilesError(FileExistsError):
    """Writing would replace or delete files this package did not write."""


def _read_ledger(out_dir: str) -> dict:
    path = osp.join(out_dir, LEDGER_NAME)
    if not osp.isfile(path):
        return dict(files=[], patterns=[])
    try:
        with open(path) as f:
            ledger = json.load(f)
        files, patterns = ledger['files'], ledger['patterns']
        if not (isinstance(files, list) and isinstance(patterns, list)):
            raise TypeError('files and patterns must be lists')
    except (ValueError, KeyError, TypeError) as err:
        raise ForeignFilesError(
            f'{path}: not a ledger of kdmos_plugin ({err}); it does not say '
            f'which files of {out_dir} are ours, so nothing there is '
            f'replaced: write to another folder') from None
    return dict(files=[str(p) for p in files],
                patterns=[str(p) for p in patterns])


def _write_ledger(out_dir: str, ledger: dict) -> None:
    path = osp.join(out_dir, LEDGER_NAME)
    write_text_atomic(path, json.dumps(
        dict(files=sorted(set(ledger['files'])),
             patterns=sorted(set(ledger['patterns']))), indent=0))


def _norm(rel: str) -> str:
    rel = osp.normpath(rel).replace(os.sep, '/')
    if rel.startswith('../') or osp.isabs(rel) or rel == LEDGER_NAME:
        raise ValueError(f'not a file inside the output folder: {rel}')
    return rel


def _is_ours(rel: str, ledger: dict) -> bool:
    return rel in ledger['files'] or any(
        fnmatch.fnmatchcase(rel, p) for p in ledger['patterns'])


def _refuse(out_dir: str, foreign: List[str], what: str, hint: str) -> None:
    shown = ', '.join(foreign[:3]) + (', ...' if len(foreign) > 3 else '')
    raise ForeignFilesError(
        f'{out_dir}: {what} {len(foreign)} file{"s" * (len(foreign) > 1)} '
        f'that kdmos_plugin did not write ({shown}); nothing was written or '
        f'deleted. {hint}'.rstrip())


def claim_files(out_dir: str, rel_paths: Iterable[str],
                overwrite: bool = False,
                hint: str = 'Write to another folder.') -> None:
    """Refuse to replace a user's file, then record ``rel_paths`` as ours.

    Args:
        out_dir (str): The output folder (created).
        rel_paths (Iterable[str]): Files about to be written, relative to
            ``out_dir``.
        overwrite (bool): Replace existing files that are not ours too
            (they are ours from then on).
        hint (str): Added to the error: what the user can do.

    Raises:
        ForeignFilesError: A file to be written exists and is not in the
            ledger (all of them are counted, the first three named); or a
            ledger that is not ours. Nothing is written then.
    """
    out_dir = os.fspath(out_dir)
    rels = [_norm(r) for r in rel_paths]
    ledger = _read_ledger(out_dir)
    foreign = [r for r in rels if osp.lexists(osp.join(out_dir, r))
               and not _is_ours(r, ledger)]
    if foreign and not overwrite:
        _refuse(out_dir, foreign, 'would replace', hint)
    ledger['files'] += rels
    _write_ledger(out_dir, ledger)


def start_clean(out_dir: str, patterns: Sequence[str],
                hint: str = 'Use an empty or new folder.') -> None:
    """Make ``out_dir`` an empty folder owning ``patterns``.

    A folder that does not exist or is empty is claimed; one that holds
    only files this package wrote there (per its ledger) is emptied of
    them first, so that no stale output of an earlier run stays mixed in.

    Args:
        out_dir (str): The output folder.
        patterns (Sequence[str]): ``fnmatch`` patterns relative to
            ``out_dir`` of every file the run will write, e.g.
            ``'sequences/*/predictions/*.label'``.
        hint (str): Added to the error.

    Raises:
        ForeignFilesError: The folder holds any file that is not ours
            (nothing is deleted then).
    """
    out_dir = os.fspath(out_dir)
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ForeignFilesError(f'{out_dir}: exists and is not a folder')
    ledger = _read_ledger(out_dir)
    present = []
    for base, _, names in os.walk(out_dir):
        for name in names:
            rel = osp.relpath(osp.join(base, name), out_dir).replace(
                os.sep, '/')
            if rel != LEDGER_NAME:
                present.append(rel)
    foreign = sorted(r for r in present if not _is_ours(r, ledger))
    if foreign:
        _refuse(out_dir, foreign, 'holds', hint)
    for rel in present:
        try:
            os.remove(osp.join(out_dir, rel))
        except FileNotFoundError:  # another rank removed it first
            pass
    _write_ledger(out_dir, dict(files=[], patterns=[_norm(p)
                                                    for p in patterns]))

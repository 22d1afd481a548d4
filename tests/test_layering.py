"""The package's layers point downward: checked on the import statements.

Every module of ``kdmos_plugin`` is parsed (``ast``, nothing executed) and
every import in it, at module level or inside a function, becomes an edge
to the ``kdmos_plugin`` module it names: ``from ..datasets import kitti_io``
names ``kdmos_plugin.datasets.kitti_io`` (a submodule), ``from ..datasets
import SemanticKittiMOSDataset`` names the package ``kdmos_plugin.datasets``.
Importing a submodule runs its parent packages' ``__init__`` too; those
implicit edges are left out, as import linters do, or every module would
sit in one cycle through ``kdmos_plugin/__init__.py``.

The rules (docs: README "Where things are"): no import cycle among the
package's modules; ``datasets/`` and ``models/`` never import ``apis/``; and
``import kdmos_plugin`` does not load the synthetic generator.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = 'kdmos_plugin'


def module_files(root: Path = REPO) -> Dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    out = {}
    for path in sorted((root / PACKAGE).rglob('*.py')):
        parts = list(path.relative_to(root).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        out['.'.join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int,
             name: str) -> str:
    """Absolute name of ``from <level dots><name> import ...`` in
    ``module``."""
    if level == 0:
        return name
    base = module.split('.')
    if not is_package:
        base = base[:-1]  # the package holding the module
    base = base[:len(base) - (level - 1)]
    return '.'.join(base + ([name] if name else []))


def imports_of(module: str, path: Path, modules: Set[str]) -> Set[str]:
    """The package modules that ``module`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == '__init__.py'
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in modules:
                    name = name.rpartition('.')[0]  # a.b.c -> a.b
                if name:
                    found.add(name)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level,
                              node.module or '')
            if target not in modules:
                continue  # not ours (mmdet3d, numpy, ...)
            for alias in node.names:
                sub = f'{target}.{alias.name}'
                found.add(sub if sub in modules else target)
    found.discard(module)
    return found


def import_graph(root: Path = REPO) -> Dict[str, Set[str]]:
    """Module -> the package modules it imports."""
    files = module_files(root)
    names = set(files)
    return {m: imports_of(m, p, names) for m, p in files.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module
    (Tarjan's algorithm, iterative), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        item = stack.pop()
                        on_stack.discard(item)
                        comp.append(item)
                        if item == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + '.')


def upward_imports(graph: Dict[str, Set[str]], lower: str,
                   upper: str) -> List[str]:
    """``'a -> b'`` for every import from package ``lower`` into
    ``upper``."""
    return sorted(f'{m} -> {t}' for m, targets in graph.items()
                  if _in(m, lower) for t in targets if _in(t, upper))


# ---------------------------------------------------------------------------
# the checker itself, on small packages written here
def _write_package(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_finds_lazy_cycles_and_upward_imports(tmp_path):
    _write_package(tmp_path, {
        '__init__.py': 'from . import datasets\n',
        'apis/__init__.py': '',
        'apis/demo.py': 'def f():\n    from .report import g\n',
        'apis/report.py': 'def g():\n    from . import demo\n',
        'apis/tool.py': 'from ..datasets.io import read\n',
        'datasets/__init__.py': 'from .io import read\n',
        'datasets/io.py': 'import numpy\ndef read():\n'
                          '    from kdmos_plugin.apis.tool import x\n',
        'datasets/other.py': 'from .. import apis\nfrom . import io\n',
        'models/__init__.py': 'from kdmos_plugin.datasets import read\n',
    })
    graph = import_graph(tmp_path)
    assert graph['kdmos_plugin'] == {'kdmos_plugin.datasets'}
    assert graph['kdmos_plugin.datasets.other'] == {
        'kdmos_plugin.apis', 'kdmos_plugin.datasets.io'}
    assert graph['kdmos_plugin.models'] == {'kdmos_plugin.datasets'}
    assert cycles(graph) == [
        ['kdmos_plugin.apis.demo', 'kdmos_plugin.apis.report'],
        ['kdmos_plugin.apis.tool', 'kdmos_plugin.datasets.io']]
    assert upward_imports(graph, 'kdmos_plugin.datasets',
                          'kdmos_plugin.apis') == [
        'kdmos_plugin.datasets.io -> kdmos_plugin.apis.tool',
        'kdmos_plugin.datasets.other -> kdmos_plugin.apis']
    assert upward_imports(graph, 'kdmos_plugin.models',
                          'kdmos_plugin.apis') == []


# ---------------------------------------------------------------------------
# the rules, on the package
GRAPH = import_graph()


def test_every_module_is_parsed_and_the_graph_is_not_empty():
    assert len(GRAPH) > 50
    assert 'kdmos_plugin.datasets.kitti_io' in GRAPH[
        'kdmos_plugin.datasets.transforms.load_mos_scans']


def test_no_import_cycle_among_package_modules():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize('lower', ['kdmos_plugin.datasets',
                                   'kdmos_plugin.models'])
def test_datasets_and_models_never_import_apis(lower):
    assert upward_imports(GRAPH, lower, 'kdmos_plugin.apis') == []


def test_only_apis_import_the_synthetic_generator():
    """The static side of the next test: no registered layer depends on
    the generator, so configs never need it."""
    users = sorted(m for m, targets in GRAPH.items()
                   if not _in(m, 'kdmos_plugin.synthetic')
                   and not _in(m, 'kdmos_plugin.apis')
                   and any(_in(t, 'kdmos_plugin.synthetic')
                           for t in targets))
    assert users == []


def test_import_kdmos_plugin_does_not_load_the_synthetic_generator():
    code = ('import sys, kdmos_plugin\n'
            'print(sorted(m for m in sys.modules\n'
            "             if m.startswith('kdmos_plugin.synthetic')))\n"
            "print('kdmos_plugin.datasets.kitti_io' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=f'{REPO}{os.pathsep}' +
               os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True, env=env,
                         cwd=str(REPO))
    loaded, kitti_io = out.stdout.strip().splitlines()[-2:]
    assert kitti_io == 'True'  # the import did run the package
    assert loaded == '[]'

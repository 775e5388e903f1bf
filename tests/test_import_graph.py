"""Dependencies point one way: no import cycle between tfdis's packages.

Every ``import``/``from … import`` in tfdis/ and tfds_builders/ counts, at
module level or inside a function (a lazy import is still a dependency).
Packages are tfdis.<name> (top-level modules such as tfdis.io_utils are
their own node) and tfds_builders. Read with ``ast``: nothing is imported.
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _node(module: str) -> str:
  parts = module.split(".")
  if parts[0] == "tfds_builders":
    return "tfds_builders"
  return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def _module_name(path: str) -> str:
  rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
  return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _graph():
  edges = {}
  for top in ("tfdis", "tfds_builders"):
    for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
      for name in files:
        if not name.endswith(".py") or name.endswith("_test.py"):
          continue
        path = os.path.join(dirpath, name)
        module = _module_name(path)
        src = _node(module)
        tree = ast.parse(open(path).read(), path)
        for item in ast.walk(tree):
          targets = []
          if isinstance(item, ast.Import):
            targets = [a.name for a in item.names]
          elif isinstance(item, ast.ImportFrom) and item.level == 0 and (
              item.module):
            targets = [item.module] + [f"{item.module}.{a.name}"
                                       for a in item.names]
          for t in targets:
            if t.split(".")[0] in ("tfdis", "tfds_builders"):
              dst = _node(t) if t.count(".") or t in (
                  "tfdis", "tfds_builders") else t
              if dst not in (src, "tfdis"):
                edges.setdefault(src, set()).add(dst)
  return edges


def _cycles(edges):
  """Strongly connected components with more than one node (Tarjan)."""
  index, low, stack, on, out = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on.discard(w)
        comp.append(w)
        if w == v:
          break
      if len(comp) > 1:
        out.append(sorted(comp))

  for v in list(edges):
    if v not in index:
      visit(v)
  return out


def test_no_import_cycle_between_packages():
  edges = _graph()
  assert "tfdis.training" in edges and "tfdis.models" in edges["tfdis.training"]
  assert _cycles(edges) == []


def test_layering():
  edges = _graph()
  assert "tfds_builders" not in edges.get("tfdis.data", set())
  assert not edges.get("tfdis.export", set()) & {"tfdis.training",
                                                 "tfdis.models"}

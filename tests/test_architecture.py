"""Architecture checks: no import cycle among tfimage modules, and a TensorFlow-free command-line parser."""

import ast
import os
import subprocess
import sys

import pytest

PACKAGE_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "tfimage"))


def _module_files():
    """{module name: (path, is_package)} for every .py file under tfimage/."""
    modules = {}
    root = os.path.dirname(PACKAGE_DIR)
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def _resolve_relative(module, is_package, level, target):
    """The absolute name of `from <level dots><target> import ...` written in `module`."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imported_modules(module, path, is_package, known):
    """The tfimage modules `module` imports, at module level or inside functions, with line numbers."""
    with open(path, encoding="utf-8") as stream:
        tree = ast.parse(stream.read(), filename=path)

    def deepest_known(name):
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = {}
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = (_resolve_relative(module, is_package, node.level, node.module)
                      if node.level else node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                # `from pkg import mod` imports the submodule; `from mod import name` imports mod.
                targets.append(submodule if submodule in known else source)
        for target in targets:
            resolved = deepest_known(target)
            if resolved and resolved != module and (resolved == "tfimage" or resolved.startswith("tfimage.")):
                found.setdefault(resolved, node.lineno)
    return found


def import_graph():
    """{module: {imported tfimage module: line}} over every module under tfimage/."""
    modules = _module_files()
    return {name: _imported_modules(name, path, is_package, modules)
            for name, (path, is_package) in modules.items()}


def find_cycles(graph):
    """Each strongly connected component of more than one module, as one cycle through it."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    counter = [0]

    def connect(node):  # Tarjan, recursive: the graph has ~50 nodes
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph.get(node, ())):
            if child not in index:
                connect(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # Shortest path back to `start` inside the component (breadth first).
        parents, frontier, end = {start: None}, [start], None
        while frontier and end is None:
            following = []
            for node in frontier:
                for child in sorted(graph[node]):
                    if child == start:
                        end = node
                        break
                    if child in members and child not in parents:
                        parents[child] = node
                        following.append(child)
                if end is not None:
                    break
            frontier = following
        path, node = [], end
        while node is not None:
            path.append(node)
            node = parents[node]
        cycles.append((component, list(reversed(path)) + [start]))
    return cycles


def test_the_graph_sees_plain_relative_and_function_level_imports():
    graph = import_graph()
    assert "tfimage.cli.main" in graph and "tfimage.datasets.catalogue" in graph
    # A function-level import: the registry of Keras classes is imported where it is used.
    assert any("tfimage.models.saving" in imports for imports in graph.values())
    assert find_cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        (["a", "b", "c"], ["a", "b", "c", "a"])
    ]
    assert find_cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycle_among_tfimage_modules():
    graph = import_graph()
    cycles = find_cycles(graph)
    if cycles:
        lines = []
        for component, cycle in cycles:
            steps = " -> ".join(
                f"{module} (line {graph[module][following]})" if following else module
                for module, following in zip(cycle, cycle[1:] + [None])
            )
            lines.append(f"modules {', '.join(component)} import one another, e.g. {steps}")
        pytest.fail("Import cycle among tfimage modules (imports inside functions count too):\n"
                    + "\n".join(lines))


def test_building_the_command_line_parser_does_not_import_tensorflow():
    code = "import sys; from tfimage.cli.main import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(PACKAGE_DIR))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout

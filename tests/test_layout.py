"""The package's shape: no import cycle, a small flat core, light subpackage faces, commands that
never import their registry, and a cache envelope that has not moved (golden bytes)."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import mdh_creds
from mdh_creds import crypto
from mdh_creds.cache.stored import CacheKey, live_body, pack_entry
from mdh_creds.crypto import Sealer, derive_key, identity_digest

PACKAGE = Path(mdh_creds.__file__).parent
TOP_LEVEL_LIMIT = 18


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _absolute(current: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = current if MODULES[current].name == "__init__.py" else current.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _strings(tree: ast.AST) -> set[str]:
    """String constants naming one of our modules (``import_module`` targets, lazy tables)."""
    found = set()
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and node.value in MODULES and node.value != "mdh_creds":
            found.add(node.value)
    return found


def imports_of(name: str) -> set[str]:
    """Every module of ours that ``name`` imports: top level, inside functions, by string."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = _strings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    if name == "mdh_creds.cli.commands":  # the registry loads its commands by name
        found |= {m for m in MODULES if m.startswith("mdh_creds.cli.commands.")}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its nodes in order, the first repeated last), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def find_cycle() -> list[str] | None:
    return cycle_in(GRAPH)


def test_the_scanner_sees_function_level_and_string_imports() -> None:
    assert "mdh_creds.mdh.exchange" in GRAPH["mdh_creds.mdh.account"]  # inside a method
    assert "mdh_creds.provider" in GRAPH["mdh_creds"]  # a lazy table's string
    assert "mdh_creds.cli.commands.status" in GRAPH["mdh_creds.cli.commands"]


def test_no_import_cycle() -> None:
    assert find_cycle() is None, " -> ".join(find_cycle() or [])


def unit_of(module: str) -> str:
    """The subpackage (``mdh_creds.cache``) or top-level module (``mdh_creds.broker``) a module
    belongs to: the units whose imports must run one way."""
    return ".".join(module.split(".")[:2])


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between units; the package face (``mdh_creds``) is left out, as it only
    names the public surfaces lazily."""
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = unit_of(module)
        found = units.setdefault(source, set())
        found |= {unit_of(t) for t in targets if unit_of(t) not in (source, "mdh_creds")}
    units.pop("mdh_creds", None)
    return units


def find_unit_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    return cycle_in(unit_graph(graph))


def _witness(cycle: list[str]) -> str:
    """The module imports behind each step of a cycle between units, for the failure message."""
    steps = []
    for source, target in itertools.pairwise(cycle):
        found = sorted(
            f"{m} -> {t}"
            for m, targets in GRAPH.items()
            if unit_of(m) == source
            for t in targets
            if unit_of(t) == target
        )
        steps.append(f"{source} -> {target}: {', '.join(found)}")
    return "; ".join(steps)


def test_subpackages_and_top_level_modules_import_one_way() -> None:
    """Between subpackages and top-level modules, every import (function-level and by string
    counted) runs one way: no two units import each other, directly or around a loop."""
    cycle = find_unit_cycle(GRAPH)
    assert cycle is None, _witness(cycle or [])


def test_the_unit_rule_sees_a_loop_between_subpackages() -> None:
    """The rule fails on the tree of the last round: the CLI and the server imported each other."""
    graph = {name: set(targets) for name, targets in GRAPH.items()}
    graph["mdh_creds.server.launch"].add("mdh_creds.cli.context")
    graph["mdh_creds.cli.commands.exec"].add("mdh_creds.server.launch")
    assert find_unit_cycle(graph) is not None


def test_only_the_chosen_command_is_imported_to_parse() -> None:
    """Parsing ``status --json`` imports the status command's module and no other."""
    code = (
        "import sys\n"
        "from mdh_creds.cli.main import parse_arguments\n"
        "assert parse_arguments(['status', '--json']).command == 'status'\n"
        "print(sorted(m for m in sys.modules if m.startswith('mdh_creds.cli.commands.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "['mdh_creds.cli.commands.status']"


def test_the_flat_core_stays_small() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT, top


FACES = sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and m != "mdh_creds")


LAZY_FACES = ("mdh_creds.testing", "mdh_creds.cli.commands")  # names loaded by importlib


@pytest.mark.parametrize("package", [f for f in FACES if f not in LAZY_FACES])
def test_subpackage_faces_are_empty(package: str) -> None:
    """An ``__init__`` is its docstring alone, so importing a light module of the package (the
    fast path's ``cache.stored``, ``settings.sources``...) loads nothing else."""
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    body = [node for node in tree.body if not isinstance(node, ast.Expr)]
    assert body == [], package


@pytest.mark.parametrize("package", LAZY_FACES)
def test_lazy_faces_import_their_parts_only_when_asked(package: str) -> None:
    """The testing face and the command registry name their parts and load them with
    ``importlib`` when used: at load they import nothing of ours (type checkers aside)."""
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    allowed = {"__future__", "typing", "importlib", "types"}
    eager = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) not in allowed
    ]
    assert eager == [], package


def test_commands_never_import_the_registry_nor_each_other() -> None:
    commands = [m for m in MODULES if m.startswith("mdh_creds.cli.commands.")]
    for name in commands:
        assert "mdh_creds.cli.commands" not in GRAPH[name], name
        assert not (GRAPH[name] & set(commands)), name
        assert "mdh_creds.cli.main" not in GRAPH[name], name


# The cache format, fixed: any change here makes every cached entry a miss for every user.
GOLDEN_IDENTITY = {
    "service_account": "MyDataHelps.12345.app",
    "token_url": "https://designer.mydatahelps.org/identityserver/connect/token",
    "exchange_url": "https://api.explorer.mydatahelps.org/token",
    "project": "RK.12345.Golden",
    "scope": "api",
}
GOLDEN_DIGEST = "e8ff5fbce531d6a2ad13093d3c9b63dc01bd3c6ca06139106be37b9b31d1a8ba"
GOLDEN_MATERIAL = b"mdh-creds golden key material v1"
GOLDEN_NONCE = bytes(range(12))
GOLDEN_PAYLOAD = {"AccessKeyId": "ASIAGOLDEN", "Expiration": "2026-01-01T00:00:00+00:00"}
GOLDEN_ENVELOPE = bytes.fromhex(
    "4d444831000102030405060708090a0be6d6efef7091279b9bb654481caeec48c3d704e99de0c1bc54e959e7a990"
    "ca0306030efacf2356e5291c692421b01e45e31005dde4ac2fc9ad1ca789885e84699843974630c853443a795f58"
    "aaaede6482db1f129c"
)
GOLDEN_HEADER = bytes.fromhex("4d444531000000006955b900")  # "MDE1" | 2026-01-01T00:00:00Z


def test_the_entry_key_of_an_identity_has_not_moved() -> None:
    assert identity_digest(GOLDEN_IDENTITY) == GOLDEN_DIGEST
    key = CacheKey.for_identity(GOLDEN_IDENTITY, "credentials")
    assert key.name == f"credentials-{GOLDEN_DIGEST}"


def test_an_envelope_sealed_before_opens_now() -> None:
    key = CacheKey(GOLDEN_DIGEST, "credentials")
    assert Sealer(GOLDEN_MATERIAL).open(key, GOLDEN_ENVELOPE) == GOLDEN_PAYLOAD
    assert Sealer(GOLDEN_MATERIAL).open(CacheKey(GOLDEN_DIGEST, "token"), GOLDEN_ENVELOPE) is None


def test_sealing_with_the_golden_nonce_gives_the_golden_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto.os, "urandom", lambda size: GOLDEN_NONCE[:size])
    key = CacheKey(GOLDEN_DIGEST, "credentials")
    assert Sealer(GOLDEN_MATERIAL).seal(key, GOLDEN_PAYLOAD) == GOLDEN_ENVELOPE


def test_the_envelope_is_the_documented_construction() -> None:
    """MDH1 | nonce | AES-256-GCM(HKDF-SHA256(material), aad = MDH1|kind|digest)."""
    aead = AESGCM(derive_key(GOLDEN_MATERIAL))
    aad = b"MDH1|credentials|" + GOLDEN_DIGEST.encode()
    body = GOLDEN_ENVELOPE[16:]
    assert GOLDEN_ENVELOPE[:16] == b"MDH1" + GOLDEN_NONCE
    plaintext = aead.decrypt(GOLDEN_NONCE, body, aad)
    assert plaintext == b'{"AccessKeyId":"ASIAGOLDEN","Expiration":"2026-01-01T00:00:00+00:00"}'


def test_the_stored_header_has_not_moved() -> None:
    expires = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stored = pack_entry(GOLDEN_ENVELOPE, expires)
    assert stored == GOLDEN_HEADER + GOLDEN_ENVELOPE
    assert live_body(stored, expires.timestamp() - 1) == GOLDEN_ENVELOPE
    assert live_body(stored, expires.timestamp()) is None

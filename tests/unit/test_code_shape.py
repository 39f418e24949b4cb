"""Readable units: no function or method in asset_tracker/ above cyclomatic complexity 30 (radon rank E or F)."""
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

PACKAGE = Path(__file__).resolve().parents[2] / "asset_tracker"


def _blocks(path: Path):
    for block in cc_visit(path.read_text(encoding="utf-8")):
        yield block
        yield from getattr(block, "closures", ())


def test_no_function_of_rank_e_or_f():
    too_complex = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in _blocks(path):
            if cc_rank(block.complexity) in ("E", "F"):
                too_complex.append(f"{path.relative_to(PACKAGE.parent)}:{block.lineno} {block.fullname} "
                                   f"({block.complexity}, rank {cc_rank(block.complexity)})")
    assert not too_complex, "Break these into named steps:\n" + "\n".join(too_complex)


def test_the_check_sees_a_complex_function():
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(31))
    (block,) = cc_visit(f"def f(x):\n{branches}\n    return -1\n")
    assert cc_rank(block.complexity) == "E"

"""``python -m bench.proof <suite>|all [--size small|full] [--no-record] [--workdir DIR]``.

Prints each suite's tried/handled (and what was not handled) and writes its row into bench/RESULTS.md.
Exits 1 when any suite handled less than it tried.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.proof import RESULTS, SIZES, SUITE_NAMES, SuiteResult, record, suites, tiny_home

NEEDS_TINY = {"crashes", "idempotency", "interrupts"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.proof", description=__doc__)
    p.add_argument("suite", choices=[*SUITE_NAMES, "all"])
    p.add_argument("--size", choices=SIZES, default="full")
    p.add_argument("--no-record", action="store_true", help=f"do not write {RESULTS.name}")
    p.add_argument("--workdir", type=Path, help="where the suites work (default: a temporary folder)")
    args = p.parse_args(argv)
    names = list(SUITE_NAMES) if args.suite == "all" else [args.suite]
    runners = suites()
    started = time.monotonic()
    results: list[SuiteResult] = []
    with tempfile.TemporaryDirectory(prefix="proof-") as default_workdir:
        workdir = args.workdir or Path(default_workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        tiny = None
        if NEEDS_TINY.intersection(names):
            print(
                "building the tiny home (one 13502 release: kostra ingest-file, kostra build) …", flush=True
            )
            tiny = tiny_home(workdir)
        for name in names:
            print(f"{name} ({args.size}) …", flush=True)
            started_suite = time.monotonic()
            try:
                result = runners[name](args.size, workdir=workdir, tiny=tiny)
            except Exception as exc:  # noqa: BLE001 - one broken suite must not hide the others' results
                result = SuiteResult(name, args.size, seconds=time.monotonic() - started_suite)
                result.failures.append(f"the suite itself failed: {type(exc).__name__}: {exc}")
            results.append(result)
            print(result.summary(), flush=True)
            for line in result.failures:
                print(f"  NOT HANDLED {line[:800]}", flush=True)
            for line in result.notes[:20]:
                print(f"  note: {line[:400]}", flush=True)
            if not args.no_record:
                record(result)
    total = time.monotonic() - started
    print(f"\n{len(results)} suite(s) in {total:.0f} s")
    for r in results:
        print(f"  {r.suite:12} {r.size:5} tried {r.tried:5}  handled {r.handled:5}  {r.seconds:6.0f} s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

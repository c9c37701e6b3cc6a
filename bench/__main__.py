"""``make bench``: every benchmark, results in bench/results/*.json and in the README.

Each suite is a module with a ``main()`` that writes its own result file. This runs them
in turn (one failing suite is reported and does not stop the others), then rewrites the
README's benchmark section between the ``<!-- bench:start -->`` and ``<!-- bench:end -->``
markers from bench/results.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.report import update_readme

SUITES = ("bench.retrieval", "bench.encoder", "bench.turn", "bench.desk", "bench.insight",
          "bench.nlu.first_turn", "bench.nlu.clarify_answers", "bench.nlu.two_problems")


def main(argv: list[str]) -> int:
    chosen = [s for s in SUITES if not argv or s.split(".")[-1] in argv]
    failed = []
    for name in chosen:
        started = time.perf_counter()
        print(f"bench: running {name}", flush=True)
        try:
            suite_main = importlib.import_module(name).main
            # Suites with their own options get none here: `make bench` runs the full set.
            suite_main([]) if suite_main.__code__.co_argcount else suite_main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"bench: {name} took {time.perf_counter() - started:.0f} s", flush=True)
    update_readme()
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

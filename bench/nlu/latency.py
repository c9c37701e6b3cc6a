"""``python -m bench.nlu.latency``: parse latency of a trained model through ``rasa run``.

Re-measures an already trained model (e.g. a benchmark's, under /tmp/mot-bench-nlu) without
training it again, for a quieter moment or a side-by-side with another model; the NLU
benchmark itself measures latency on every test message it parses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.nlu import rasa_runner as rasa
from bench.nlu.__main__ import BUILT_IN
from bench.nlu.data import load_splits
from bench.nlu.run import latency


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu.latency", description=__doc__)
    parser.add_argument("--model", type=Path, action="append", required=True,
                        help="a trained Rasa model archive (repeatable: measured in turn)")
    parser.add_argument("--dataset", choices=sorted(BUILT_IN), default="banking77")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--port", type=int, default=5107)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    texts = [t for t, _ in load_splits(args.dataset, BUILT_IN[args.dataset]).test]
    texts = texts[: args.messages + 20]
    for model in args.model:
        with rasa.serve(model, args.port, Path("/tmp") / f"latency-{args.port}.log",
                        args.threads):
            parsed = rasa.parse_all(args.port, texts)
        print(json.dumps({"model": str(model), **latency(parsed)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

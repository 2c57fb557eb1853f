"""`python -m bench.instructions`: machine instructions per GraphQL request, by kind, counted by callgrind.

CPU and wall times move with whatever else the machine runs, by a tenth or more from one run to the
next; the instructions a request executes do not (the same code, data and environment give the same
count to a fraction of a percent), so two commits can be compared on a busy machine, one run each.
This runs `bench.profile_request` under valgrind's callgrind (some fifty times slower: minutes, most
of them starting the interpreter) with PYTHONHASHSEED fixed, and counts only each kind's timed
requests: callgrind_control zeroes the counts before them and dumps them after. The count is not a
time: it does not weigh cache misses, nor the database's work, nor waiting.

  python -m bench.instructions --only lend,refused,me,portfolio --requests 120
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.profile_request import KINDS

WARMUP = 20


def count(kinds: list[str], requests: int) -> dict[str, int]:
    """Instructions per request of each kind, in one callgrind run of bench.profile_request."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.profile_request",
            f"--only={','.join(kinds)}",
            f"--requests={requests}",
            f"--warmup={WARMUP}",
            "--rounds=1",
            "--callgrind",
        ]
        run = subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"bench.profile_request under callgrind failed:\n{run.stdout}\n{run.stderr}")
        found = {}
        for dump in Path(directory).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: dump (\S+)", text, re.MULTILINE)
            total = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if label and total:
                found[label.group(1)] = int(total.group(1)) // requests
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--only", default="lend,refused,deposit,me,portfolio", help=f"kinds of {','.join(KINDS)}")
    parser.add_argument("--requests", type=int, default=120, help="counted requests per kind (120)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (callgrind) is not installed", file=sys.stderr)
        return 1
    kinds = [kind for kind in KINDS if kind in args.only.split(",")]
    found = count(kinds, args.requests)
    print(f"  instructions per request, {args.requests} requests per kind after {WARMUP} uncounted (callgrind)")
    for kind in kinds:
        print(f"  {kind:10} {found[kind]:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Summarise a py-spy raw profile (collapsed stacks): the functions where time goes.

.venv/bin/python -m bench.profile_top var/bench/intake.profile.txt [--top 25] [--match services]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only frames whose text contains this")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        weight = int(samples)
        total += weight
        frames = stack.split(";")
        for frame in set(frames):
            if args.match in frame:
                inclusive[frame] += weight
        own[frames[-1]] += weight
    print(f"{total} samples")
    print("-- inclusive --")
    for frame, weight in inclusive.most_common(args.top):
        print(f"{100 * weight / total:5.1f}%  {frame}")
    print("-- own --")
    for frame, weight in own.most_common(args.top):
        print(f"{100 * weight / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()

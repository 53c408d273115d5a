#!/usr/bin/env python3
"""Where a hosted chanos operation's instructions go (run by scripts/profile).

Counts every instruction of BIN under callgrind twice, with N and with 2N
operations, and divides the difference by N, so that start-up and shut-down
fall out. Each instruction is then charged to the innermost frame of the
project's own code in its inline chain (addr2line -i): after inlining, a
`RefCell` borrow or a `mem::replace` is charged to the chanos function that
did it. Prints instructions per operation by file and by function.
Standard library, valgrind and binutils' addr2line only.
"""

import argparse
import collections
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def callgrind(binary, args, out):
    subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes",
                    f"--callgrind-out-file={out}", binary, *args],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def self_cost_by_address(path, binary):
    """Instructions retired at each address of `binary`'s own object, and in
    total in each other object (the C library's `malloc`, the loader).
    Calls are not charged to their call site: their callee's lines count
    them."""
    cost, elsewhere = collections.Counter(), collections.Counter()
    objects, current, addr, after_calls = {}, None, 0, False
    name = os.path.basename(binary)
    for line in open(path):
        m = re.match(r"(c?)ob=\((\d+)\)\s*(.*)", line)
        if m:
            if m.group(3).strip():
                objects[m.group(2)] = m.group(3).strip()
            if not m.group(1):
                current = objects.get(m.group(2))
            continue
        if line.startswith("calls="):
            after_calls = True
            continue
        if not line or line[0] not in "0123456789+-*":
            continue
        fields = line.split()
        a = fields[0]
        if a.startswith("0x"):
            addr = int(a, 16)
        elif a[0] in "+-":
            addr += int(a)
        if after_calls:  # the inclusive cost of the call just named
            after_calls = False
            continue
        if current and len(fields) >= 3:
            if os.path.basename(current) == name:
                cost[addr] += int(fields[2])
            else:
                elsewhere[os.path.basename(current)] += int(fields[2])
    return cost, elsewhere


def own_frame(binary, addresses):
    """address -> (file, function) of the innermost frame in this repository."""
    out = subprocess.run(["addr2line", "-e", binary, "-i", "-f", "-C", "-a", *map(hex, addresses)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    frames, address, i = {}, None, 0
    while i < len(out):
        if out[i].startswith("0x"):
            address = int(out[i], 16)
            i += 1
            continue
        function, location = out[i], out[i + 1] if i + 1 < len(out) else ""
        i += 2
        if address in frames or not location.startswith(ROOT + "/"):
            continue
        file = location[len(ROOT) + 1:].split(":")[0]
        generics = r"(\w)(?:::)?<[^<>]*>"  # `f::<T>` and `Type<T>`
        while re.search(generics, function):
            function = re.sub(generics, r"\1", function)
        # `<Type as Trait>::f` and `<Type>::f` read as `Type::f`.
        function = re.sub(r"<([^<>]*?)(?: as [^<>]*)?>", r"\1", function)
        frames[address] = (file, "::".join(function.split("::")[-2:]))
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000, help="operations in the smaller run")
    ap.add_argument("--top", type=int, default=25, help="functions to list")
    ap.add_argument("binary")
    ap.add_argument("args", nargs="+", help="the binary's arguments; @N stands for the count")
    a = ap.parse_args()
    if not any("@N" in arg for arg in a.args):
        ap.error("one of the arguments must be @N, the number of operations")
    with tempfile.TemporaryDirectory() as tmp:
        counts = []
        for n in (a.n, 2 * a.n):
            out = os.path.join(tmp, f"callgrind.{n}")
            callgrind(a.binary, [arg.replace("@N", str(n)) for arg in a.args], out)
            counts.append(self_cost_by_address(out, a.binary))
    (own_1, other_1), (own_2, other_2) = counts
    per_op = {addr: (own_2[addr] - own_1.get(addr, 0)) / a.n for addr in own_2}
    per_op = {addr: c for addr, c in per_op.items() if c > 0}
    frames = own_frame(a.binary, sorted(per_op))
    by_file, by_function = collections.Counter(), collections.Counter()
    for addr, c in per_op.items():
        file, function = frames.get(addr, ("(the binary, outside the repository)", "?"))
        by_file[file] += c
        by_function[(file, function)] += c
    for obj in other_2:
        c = (other_2[obj] - other_1.get(obj, 0)) / a.n
        if c > 0:
            by_file[f"({obj})"] += c
    print(f"{sum(by_file.values()):.0f} instructions per operation: "
          f"{os.path.basename(a.binary)} {' '.join(a.args)}\n")
    for file, c in by_file.most_common():
        if c >= 0.5:
            print(f"{c:7.1f}  {file}")
    print()
    for (file, function), c in by_function.most_common(a.top):
        print(f"{c:7.1f}  {function}  ({os.path.basename(file)})")


if __name__ == "__main__":
    main()

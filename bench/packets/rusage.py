#!/usr/bin/env python3
"""Runs a command and prints, as one JSON line, its wall time and the CPU time and peak RSS the
kernel accounted to it (wait4's rusage, microsecond resolution): what Node cannot read of a child.
Also the CPU time the whole machine was busy over the same window (/proc/stat), so the caller can
tell how much other processes used while the command ran.

    rusage.py [--stdout FILE] -- COMMAND [ARG...]

The command's stdout goes to FILE (default /dev/null); its stderr is passed through.
"""
import json
import os
import subprocess
import sys
import time


def machine_busy_seconds() -> float:
    """user + nice + system + irq + softirq of /proc/stat's cpu line, in seconds."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = sys.argv[1:]
    stdout_path = os.devnull
    if len(args) >= 2 and args[0] == "--stdout":
        stdout_path, args = args[1], args[2:]
    if not args or args[0] != "--" or len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = args[1:]
    with open(stdout_path, "wb") as out:
        busy = machine_busy_seconds()
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        busy = machine_busy_seconds() - busy
    print(json.dumps({
        "wallSeconds": wall,
        "userSeconds": usage.ru_utime,
        "systemSeconds": usage.ru_stime,
        "maxRssKiB": usage.ru_maxrss,
        "machineBusySeconds": busy,
        "exitCode": os.waitstatus_to_exitcode(status),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

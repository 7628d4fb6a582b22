"""Shared by the bench scripts: run a command as its own process and measure it.

Each run gives wall time, CPU time (user + system of the process and of the processes it
waited for, from ``os.wait4``) and its peak RSS (the largest of those processes). The scripts
alternate the commands they compare, round by round, and take medians, so that the load of a
shared machine falls on every command alike. Not a test: the scripts print figures.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

def _boot(repo: Path) -> str:
    """`udfs/` is installed as the module kofu_udfs; from a checkout, a finder maps the name to
    that checkout's folder (lazily: nothing is imported before the command asks for it)."""
    udfs = repo / "udfs"
    return (
        "import importlib.util as _u, sys as _s\n"
        "class _F:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        f"        return _u.spec_from_file_location(name, {str(udfs / '__init__.py')!r}, submodule_search_locations=[{str(udfs)!r}]) if name == 'kofu_udfs' else None\n"
        "_s.meta_path.insert(0, _F)\n"
    )


@dataclass(frozen=True)
class Checkout:
    """A checkout of kofu-xl whose code the measured processes run (this one, or an older
    commit's worktree for before/after figures measured in the same rounds)."""

    repo: Path

    def py(self, code: str) -> list[str]:
        """``python -c code`` with this checkout's kofu_xl and kofu_udfs."""
        return [sys.executable, "-c", _boot(self.repo) + code]

    @property
    def kofu(self) -> list[str]:
        """The `kofu-xl` console script, run from this checkout: the function pyproject.toml
        names for it (``run`` since the process entry freezes the objects left at the end;
        ``main`` before)."""
        text = (self.repo / "pyproject.toml").read_text(encoding="utf-8")
        entry = "run" if 'kofu-xl = "kofu_xl.cli:run"' in text else "main"
        return self.py(f"import sys; from kofu_xl.cli import {entry}; sys.exit({entry}())")

    def env(self) -> dict[str, str]:
        """The environment of the measured processes: this checkout first on the path,
        bytecode caching on (an installed package has its .pyc; a checkout's go to a
        temporary cache, not into the tree)."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(self.repo), *filter(None, [os.environ.get("PYTHONPATH")])])
        env.setdefault("PYTHONPYCACHEPREFIX", str(Path(os.environ.get("TMPDIR", "/tmp")) / "kofu-bench-pycache"))
        return env


HERE = Checkout(REPO)
KOFU = HERE.kofu
py = HERE.py
child_env = HERE.env


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int


def run(cmd: Sequence[str], *, cwd: Path = REPO, env: dict[str, str] | None = None, ok: Sequence[int] = (0,)) -> Run:
    # stderr goes to a file: a pipe read only after the wait would block a child that fills it
    with tempfile.TemporaryFile() as err_file:
        t = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env or child_env(), stdout=subprocess.DEVNULL, stderr=err_file)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read().decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


@dataclass
class Series:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mib for r in self.runs)


def alternate(commands: dict[str, Callable[[], Run]], rounds: int, warm: int = 1) -> dict[str, Series]:
    """Run every command once per round, in an order shuffled anew each round (seeded by the
    round: the same orders every run); ``warm`` rounds first, not counted.

    Shuffled because a command's figure depends on the one before it: on this project's VM a
    small process started right after a large one (``import xlwings``, 77 MiB) took 15-30 % more
    CPU than after a small one, so a fixed order favoured whichever checkout's commands came
    later (measured in session 9: the same check, 0.111-0.127 s right after xlwings, 0.084-0.107 s
    after a submit)."""
    out = {label: Series(label) for label in commands}
    order = list(commands.items())
    for i in range(warm + rounds):
        random.Random(i).shuffle(order)
        for label, fn in order:
            r = fn()
            if i >= warm:
                out[label].runs.append(r)
    return out


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpus} CPU(s) {model}, Python {platform.python_version()}"


def load() -> str:
    if not hasattr(os, "getloadavg"):
        return "load average n/a"
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"

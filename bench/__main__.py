"""`python -m bench`: Stint against a bare asyncpg baseline on the same PostgreSQL data, in one run.

    python -m bench [--scale full|small] [--seconds 10] [--warmup 2] [--concurrency 32]
                    [--only get me list accept submit review scale] [--load-generator auto|wrk|python]

Seeds the database stint_bench (bench.seed), serves it with the project and with the baseline
(bench.baseline), each under uvicorn in a process of its own, and drives every scenario on both
with a load generator in a third process (bench.loadgen). Every figure is printed as the project's,
the baseline's and their ratio, next to its target from the speed budget (issue 7); a JSON report
goes to bench/results/. Numbers, not assertions: a missed target does not fail the run.

Each transition acts on a different assignment per request, from pools seeded in its starting state
(POOL_RATE per second of warm-up and timed run, per transition and app): at full scale the pools are
part of the 1,000,000 assignments, at small scale they come on top of the 10,000. At full scale the
list's page 1 is also timed while only the first 10,000 assignments are in, before the rest are
seeded: the scale check compares its latency there and at 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

import httpx

from bench import loadgen, seed
from bench.loadgen import Load
from bench.servers import Server

RESULTS = Path(__file__).absolute().parent / "results"
APPS = ("project", "baseline")
POOL_RATE = 5_000
"""Transitions per second a pool is sized for, over warm-up and timed run; a faster app would cycle into
assignments it already moved, and its errors would show it."""
DEEP_PAGE = 200
SUBMIT_BODY = json.dumps({"body": seed.SUBMISSION.body, "time_spent": "PT2H"})
REVIEW_BODY = json.dumps({"outcome": "pass", "scores": [{"criterion": s.criterion, "score": s.score} for s in seed.PASSING], "feedback": "Clean."})
TRANSITIONS = (("accept", "accept", ""), ("submit", "submissions", SUBMIT_BODY), ("review", "reviews", REVIEW_BODY))


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    target: float
    """The least project/baseline rate ratio that meets the budget."""
    load: Callable[[str, bool], Load]
    """(app, warm-up?) -> what to send."""


@dataclass(frozen=True)
class Figure:
    title: str
    unit: str
    project: float | None
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale = seed.SCALES[args.scale]
        self.runs: dict[str, dict[str, dict[str, Any]]] = {}

    def wanted(self, name: str) -> bool:
        return not self.args.only or name in self.args.only

    def measure(self, name: str, servers: dict[str, Server], load: Callable[[str, bool], Load]) -> None:
        """A warm-up, then the timed run, on each app in turn."""
        args = self.args
        self.runs[name] = {}
        for app in APPS:
            if args.warmup:
                loadgen.run(servers[app].url, load(app, True), args.warmup, args.concurrency)
            self.runs[name][app] = loadgen.run(servers[app].url, load(app, False), args.seconds, args.concurrency)
        print(f"  {name:<16}" + "  ".join(
            f"{app} {run['rate']:>7,.0f}/s p50 {run['p50_ms']:6.1f} ms p99 {run['p99_ms']:6.1f} ms errors {run['errors']}"
            for app, run in self.runs[name].items()), flush=True)

    def run(self) -> dict[str, Any]:
        scale, args = self.scale, self.args
        started = time.perf_counter()
        asyncio.run(seed.reset())
        seeder = seed.Seeder(scale)
        world = asyncio.run(seeder.base())
        first = min(seed.FIRST_STAGE, scale.assignments)
        asyncio.run(seeder.assignments(world, first))
        seed_seconds = time.perf_counter() - started
        inbox = f"/v1/assignments?state=submitted&reviewer_id={world.hot_reviewer}&limit=50"
        servers: dict[str, Server] = {}
        try:
            env = {"STINT_DATABASE_URL": seed.URL, "STINT_LOG_LEVEL": "warning", "STINT_RATE_LIMIT_PER_SECOND": "0"}  # load, not a caller
            servers["project"] = Server("project", "app.main:create_app", env, factory=True)
            servers["baseline"] = Server("baseline", "bench.baseline:app", {"BENCH_DSN": seed.DSN, "BENCH_TENANT": str(world.tenant_id), "BENCH_ME": str(world.me)})
            print(", ".join(f"{app} pid {server.process.pid} at {server.url}" for app, server in servers.items()) + f"; load by {loadgen.tool()}", flush=True)
            small = f"list_at_{first}" if self.wanted("scale") and scale.assignments > first else None
            if small:
                self.measure(small, servers, lambda app, warm: Load("GET", [inbox], world.key))
            pools = POOL_RATE * (args.warmup + args.seconds) if any(self.wanted(name) for name, _, _ in TRANSITIONS) else 0
            started = time.perf_counter()
            asyncio.run(seeder.assignments(world, max(0, scale.assignments - first - 6 * pools), pools))
            seed_seconds += time.perf_counter() - started
            print(f"seeded {world.counts} in {seed_seconds:.1f} s", flush=True)
            scenarios = self.scenarios(world, servers, inbox)
            for scenario in scenarios:
                self.measure(scenario.name, servers, scenario.load)
            rss = {app: server.peak_rss_mb() for app, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
        return {
            "benchmark": "api", "at": datetime.now(UTC).isoformat(timespec="seconds"), "scale": scale.name,
            "seconds": args.seconds, "warmup": args.warmup, "concurrency": args.concurrency, "load_generator": loadgen.tool(),
            "seed": {"seconds": round(seed_seconds, 1), "rows": world.counts},
            "figures": [asdict(figure) for figure in self.figures(scenarios, rss, small, world.counts["assignments"])],
            "runs": self.runs,
        }

    def scenarios(self, world: seed.World, servers: dict[str, Server], inbox: str) -> list[Scenario]:
        found: list[Scenario] = []
        if self.wanted("get"):
            paths = [f"/v1/assignments/{ident}" for ident in world.sample]
            found.append(Scenario("get", "GET /v1/assignments/{id}", 0.60, lambda app, warm: Load("GET", paths, world.key)))
        if self.wanted("me"):
            found.append(Scenario("me", "GET /v1/me/assignments?limit=50 (person token)", 0.50,
                                  lambda app, warm: Load("GET", ["/v1/me/assignments?limit=50"], world.token)))
        if self.wanted("list"):
            found.append(Scenario("list_page_1", "GET /v1/assignments?state&reviewer_id, page 1", 0.50, lambda app, warm: Load("GET", [inbox], world.key)))
            deep = {app: _deep_page(servers[app], world.key, inbox) for app in APPS}
            page = deep["project"][1]
            found.append(Scenario(f"list_page_{page}", f"  … page {page} via cursor", 0.50, lambda app, warm: Load("GET", [deep[app][0]], world.key)))
        warm = POOL_RATE * self.args.warmup
        for name, suffix, body in TRANSITIONS:
            if self.wanted(name):
                def load(app: str, warming: bool, name: str = name, suffix: str = suffix, body: str = body) -> Load:
                    pool = world.pools[f"{name}/{app}"]
                    return Load("POST", [f"/v1/assignments/{ident}/{suffix}" for ident in (pool[:warm] if warming else pool[warm:])], world.key, body)
                found.append(Scenario(name, f"POST /v1/assignments/{{id}}/{suffix}", 0.50, load))
        return found

    def figures(self, scenarios: list[Scenario], rss: dict[str, float], small: str | None, assignments: int) -> list[Figure]:
        runs = self.runs

        def p50_ratio(of: str, to: str) -> dict[str, float]:
            return {app: runs[of][app]["p50_ms"] / runs[to][app]["p50_ms"] for app in APPS}

        figures = []
        for scenario in scenarios:
            project, baseline = (runs[scenario.name][app]["rate"] for app in APPS)
            figures.append(Figure(scenario.title, "req/s", project, baseline, project / baseline, f">= {scenario.target:.2f}", project / baseline >= scenario.target))
            if scenario.name.startswith("list_page_") and scenario.name != "list_page_1":
                deep = p50_ratio(scenario.name, "list_page_1")
                figures.append(Figure("  p50 latency, that page / page 1", "x", deep["project"], deep["baseline"], None, "<= 1.20", deep["project"] <= 1.2))
        if "get" in runs:
            project, baseline = (runs["get"][app]["p99_ms"] for app in APPS)
            figures.append(Figure("GET /v1/assignments/{id} p99 latency", "ms", project, baseline, project / baseline, "<= 2.00", project / baseline <= 2))
        figures.append(Figure("server peak RSS (VmHWM)", "MB", rss["project"], rss["baseline"], rss["project"] / rss["baseline"], "<= 250 MB", rss["project"] <= 250))
        if small and "list_page_1" in runs:
            grown = p50_ratio("list_page_1", small)
            figures.append(Figure(f"list p50 at {assignments:,} / at {seed.FIRST_STAGE:,} assignments", "x", grown["project"], grown["baseline"], None, "<= 1.30", grown["project"] <= 1.3))
        else:
            figures.append(Figure("scale check, list p50 at 1,000,000 / at 10,000", "x", None, target="needs --scale full (and the list and scale scenarios)"))
        return figures


def _deep_page(server: Server, key: str, path: str) -> tuple[str, int]:
    """The path of page DEEP_PAGE by following next_cursor; with fewer pages, of the last full one."""
    cursors: list[str | None] = [None]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        while len(cursors) < DEEP_PAGE:
            response = client.get(path if cursors[-1] is None else f"{path}&cursor={cursors[-1]}")
            response.raise_for_status()
            following = response.json()["next_cursor"]
            if following is None:
                if len(cursors) > 1:
                    cursors.pop()  # that last page may be short; the one before is full
                break
            cursors.append(following)
    cursor = cursors[-1]
    return (path if cursor is None else f"{path}&cursor={cursor}"), len(cursors)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if unit == "x" else f"{value:.1f}" if unit == "ms" else f"{value:,.0f}"


def print_table(report: dict[str, Any]) -> None:
    seeded = report["seed"]
    print(f"\nStint vs baseline, scale {report['scale']}: {seeded['rows']['assignments']:,} assignments (seeded in {seeded['seconds']} s); "
          f"{report['seconds']} s per scenario after {report['warmup']} s warm-up; concurrency {report['concurrency']}; load by {report['load_generator']}")
    print(f"{'':56}{'project':>9}{'baseline':>10}{'ratio':>7}  target")
    for figure in (Figure(**values) for values in report["figures"]):
        label = f"{figure.title} ({figure.unit})"
        if figure.project is None:
            print(f"{label:<56}{'':26}  {figure.target}")
            continue
        verdict = "met" if figure.met else "MISSED"
        print(f"{label:<56}{_number(figure.project, figure.unit):>9}{_number(figure.baseline, figure.unit):>10}"
              f"{_number(figure.ratio, 'x'):>7}  {figure.target:<10}{verdict}")
    errors = {f"{name}/{app}": run["errors"] for name, runs in report["runs"].items() for app, run in runs.items() if run["errors"]}
    if errors:
        print(f"errors (non-2xx answers or socket errors; rates count successes only): {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(seed.SCALES), default="full", help="full: 1,000,000 assignments; small: 10,000 plus the transition pools (a smoke run)")
    parser.add_argument("--seconds", type=int, default=10, help="timed seconds per scenario and app")
    parser.add_argument("--warmup", type=int, default=2, help="untimed seconds before each timed run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="+", choices=["get", "me", "list", "accept", "submit", "review", "scale"], help="run only these scenarios")
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto", help="auto: wrk when installed")
    args = parser.parse_args()
    loadgen.choose(args.load_generator)
    report = Bench(args).run()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"api-{report['at'][:19].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"report: {path}")


if __name__ == "__main__":
    main()

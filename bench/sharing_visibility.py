"""How quickly the visibility rule answers at realistic size: lists, search, details and the
rule itself, for an agency that sees ~5,000 of 150,000 case files.

    .venv/bin/python bench/sharing_visibility.py                       # this tree alone
    .venv/bin/python bench/sharing_visibility.py --old /tmp/old-main   # and another, side by side

Every measurement runs in one worker process per tree (that tree's code, the same database),
in rounds that alternate A B, B A, ... Exit status 1 if this tree misses a target.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any

import common

PAGE = 25
# name: (what it is, target p95 in ms or None)
MEASUREMENTS = {
    "api_case_files": ("GET /api/v1/case-files/ (whole caseload, cursor pages of 25)", 50.0),
    "person_search": ("GET /people/?family_name=&date_of_birth= (page of results)", 50.0),
    "caseload": ("GET /caseload/ (the worker's open files, pages of 25)", 50.0),
    "person_page": ("GET /people/<id>/ (half visible 200, half hidden 404)", None),
    "api_person": ("GET /api/v1/persons/<id>/ by session (visible)", None),
    "rule_exists": ("visible_to(agency, demographics).filter(pk=).exists()", 10.0),
    "rule_count": ("visible_to(agency, None, listing=True).count()", None),
}


class Measures:
    """The worker's side: Django for one tree, signed in as the target agency's worker."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from caretrust.directory.models import Agency
        from caretrust.people.models import CaseFile, Person

        meta = common.seeded(common.Size())
        assert meta is not None
        self.agency = Agency.objects.get(pk=meta["target"])
        self.user = get_user_model().objects.get(pk=meta["user"])
        self.client = Client()
        self.client.force_login(self.user)
        self.rng = random.Random(7)  # noqa: S311
        visible = list(
            CaseFile.objects.visible_to(self.agency, "demographics").values_list("pk", "person_id")
        )
        hidden = list(
            CaseFile.objects.exclude(pk__in=[f for f, _ in visible])
            .values_list("pk", "person_id")
            .order_by("?")[:2000]
        )
        self.files = [f for f, _ in visible[:2000]] + [f for f, _ in hidden]
        self.visible_people = [p for _, p in visible[:2000]]
        self.people = self.visible_people[:1000] + [p for _, p in hidden[:1000]]
        self.searches = list(
            Person.objects.visible_to(self.agency)
            .values_list("family_name", "date_of_birth")
            .order_by("?")[:500]
        )
        self.pages = self._cursor_pages()

    def _get(self, path: str, *ok: int) -> Any:
        response = self.client.get(path)
        if response.status_code not in (ok or (200,)):
            raise SystemExit(f"{path}: {response.status_code}")
        return response

    def _cursor_pages(self, n: int = 40) -> list[str]:
        pages, path = [], "/api/v1/case-files/"
        while path and len(pages) < n:
            pages.append(path)
            path = self._get(path).json()["next"] or ""
        return pages

    def api_case_files(self) -> None:
        self._get(self.rng.choice(self.pages))

    def person_search(self) -> None:
        family, born = self.rng.choice(self.searches)
        self._get(f"/people/?family_name={family}&date_of_birth={born.isoformat()}")

    def caseload(self) -> None:
        self._get(f"/caseload/?page={self.rng.randint(1, 100)}")

    def person_page(self) -> None:
        self._get(f"/people/{self.rng.choice(self.people)}/", 200, 404)

    def api_person(self) -> None:
        self._get(f"/api/v1/persons/{self.rng.choice(self.visible_people)}/")

    def rule_exists(self) -> None:
        from caretrust.people.models import CaseFile

        pk = self.rng.choice(self.files)
        CaseFile.objects.visible_to(self.agency, "demographics").filter(pk=pk).exists()

    def rule_count(self) -> None:
        from caretrust.people.models import CaseFile

        CaseFile.objects.visible_to(self.agency, None, listing=True).count()

    def measure(self, name: str, n: int, warmup: int) -> list[float]:
        return common.timed(getattr(self, name), n, warmup)


def serve(args: argparse.Namespace) -> None:
    common.setup_django(os.environ["DATABASE_URL"], Path(args.tree))
    measures = Measures()
    common.serve({"measure": measures.measure})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="another tree to measure beside this one")
    parser.add_argument("--database", default="caretrust_bench")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=40, help="timed calls per round")
    parser.add_argument("--only", nargs="*", choices=sorted(MEASUREMENTS))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(common.ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args)
        return 0

    url = common.database_url(args.database)
    common.setup_django(url)
    meta = common.prepare(url, common.Size(), reseed=args.reseed)
    trees = {"new": common.ROOT} | ({"old": args.old.resolve()} if args.old else {})
    workers = {name: common.Worker(Path(__file__), tree, url) for name, tree in trees.items()}
    names = args.only or list(MEASUREMENTS)
    samples: dict[str, dict[str, list[list[float]]]] = {t: {m: [] for m in names} for t in trees}
    try:
        for r, tree in common.abba(list(trees), args.rounds):
            common.log(f"round {r + 1}/{args.rounds}: {tree}")
            for m in names:
                warmup = 10 if r < 2 else 2
                samples[tree][m].append(
                    workers[tree].ask(op="measure", name=m, n=args.per_round, warmup=warmup)
                )
    finally:
        for worker in workers.values():
            worker.close()

    results: dict[str, Any] = {"meta": meta, "trees": {k: str(v) for k, v in trees.items()}}
    failed = False
    print(f"\n{'measurement':<16} {'tree':<4} {'p50':>7} {'p95':>7} {'max':>8}  p95 by round")
    for m in names:
        results[m] = {t: common.summary(samples[t][m]) for t in trees}
        for t in trees:
            s = results[m][t]
            print(f"{m:<16} {t:<4} {s['p50']:7.2f} {s['p95']:7.2f} {s['max']:8.2f}  "
                  f"{s['p95_rounds']}")  # fmt: skip
        if "old" in trees:
            ratio = results[m]["new"]["p95"] / results[m]["old"]["p95"]
            results[m]["p95_ratio_new_old"] = round(ratio, 3)
            print(f"{'':<16} new/old p95 = {ratio:.2f}")
        target = MEASUREMENTS[m][1]
        if target is not None:
            ok = results[m]["new"]["p95"] <= target
            failed |= not ok
            print(f"{'':<16} {'PASS' if ok else 'FAIL'}: p95 <= {target} ms")
    print(f"\nresults: {common.save('sharing_visibility', results)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

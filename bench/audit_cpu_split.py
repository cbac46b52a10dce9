"""Where an audit row's cost goes: CPU of this process and of its PostgreSQL backend, user and
system time apart, for a transaction without and with an audit row.

    .venv/bin/python bench/audit_cpu_split.py            # 3,000 transactions of each kind

Three kinds, each committed: ``select`` (BEGIN, SELECT 1, COMMIT), ``select2`` (one more
SELECT 1: what one more round trip costs) and ``audit`` (SELECT 1, then audit.record: what
the audit row adds, its statement and a commit that must reach the disk). The backend's
times come from /proc/<pid>/stat, so the database must be this machine's (api_load.py's
bench database, seeded if needed). On a machine where system calls are dear, system time
is most of it; callgrind (api_instructions.py) counts only instructions in user space.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import api_load  # noqa: E402 - bench/ is on the path above

CLK_TCK = os.sysconf("SC_CLK_TCK")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=3000, help="transactions of each kind")
    args = p.parse_args()
    source = api_load.parse_args([])
    api_load.ensure_database(source)
    api_load.configure_django(source, api_load.server_environment(source))
    api_load.prepare_database(source)

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from caretrust.audit import services as audit
    from caretrust.audit.models import Action
    from caretrust.directory.models import Agency
    from caretrust.people.models import Person

    person, agency = Person.objects.first(), Agency.objects.first()
    user = get_user_model().objects.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    def backend() -> tuple[float, float]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK

    def select(times: int = 1) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            for _ in range(times):
                cursor.execute("SELECT 1")
                cursor.fetchone()

    def with_audit() -> None:
        with transaction.atomic():
            select()
            audit.record(
                Action.PERSON_VIEWED,
                actor=user,
                agency=agency,
                obj=person,
                person_id=person.pk,
                detail={"purpose": "bench"},
            )

    kinds: dict[str, Callable[[], None]] = {
        "select": select,
        "select2": lambda: select(2),
        "audit": with_audit,
    }
    print(f"microseconds per transaction ({args.n} of each, after 200 warm-up)")
    print(f"{'kind':<8}{'client user':>12}{'client sys':>12}{'backend user':>14}"
          f"{'backend sys':>13}{'wall':>8}")  # fmt: skip
    for name, work in kinds.items():
        for _ in range(200):
            work()
        bu0, bs0 = backend()
        t0, w0 = os.times(), time.perf_counter()
        for _ in range(args.n):
            work()
        bu1, bs1 = backend()
        t1, w1 = os.times(), time.perf_counter()
        per = [
            t1.user - t0.user,
            t1.system - t0.system,
            bu1 - bu0,
            bs1 - bs0,
            w1 - w0,
        ]
        cells = [f"{v / args.n * 1e6:.0f}" for v in per]
        print(f"{name:<8}{cells[0]:>12}{cells[1]:>12}{cells[2]:>14}{cells[3]:>13}{cells[4]:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Inbox list benchmark: latency of GET /api/v1/tickets/ on a large PostgreSQL database.

    .venv/bin/python bench/inbox.py [--tickets N] [--requests R] [--database-url URL]

Uses its own database (default postgres://postgres@127.0.0.1:5432/helpdesk_bench, or BENCH_DATABASE_URL),
creates and migrates it if needed, seeds N tickets with set-based SQL (INSERT ... SELECT generate_series),
then times the ticket list through the whole in-process stack (URL routing, middleware, token auth, role
permission, throttling, django-filter, cursor pagination, serialization, JSON rendering) with the Django
test client, as a supervisor. Seeding is idempotent: a database already holding N tickets is reused.

The last line of output is `inbox_p95_ms: X`, the worst p95 of the list scenarios (unfiltered and
filtered; median over --runs rounds). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

from machine import ensure_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
API = "/api/v1/tickets/"
PREFIX = "bench-"  # usernames, team and inbox names made by this script
CHUNK = 200_000  # tickets per INSERT ... SELECT statement

TEAMS = ["Billing", "Technical", "Sales", "Onboarding", "Japan desk"]
RESTRICTED_TEAM = "Billing"  # its agents see only their team's tickets and their own
INBOXES = [
    ("Support email", "email"),
    ("Web form", "web_form"),
    ("Site chat", "chat"),
    ("LINE official", "line"),
    ("Phone line", "phone"),
    ("Social DMs", "social"),
]
AGENTS = 20
TAGS = ["vip", "refund", "bug", "billing", "shipping", "login", "feature-request", "urgent-followup",
        "enterprise", "trial", "japanese", "complaint"]  # fmt: skip
SUBJECTS = [
    "Cannot log in", "Refund request", "Invoice is wrong", "Where is my order?", "App crashes on start",
    "Change of address", "Question about pricing", "Password reset link expired", "Feature request",
    "Delivery delayed", "Double charged", "How do I export my data?", "Account locked", "Cancel subscription",
]  # fmt: skip

# One row per ticket number g, in creation order (ids follow created_at, as in a live system), created
# evenly over the past year. The status depends on the age: the last days hold the live backlog (new, open,
# pending, solved), older tickets are nearly all closed (solved tickets close after 96 hours). Then the
# assignee (none while new or with the bot, 15% unassigned otherwise), the team (the assignee's; random or
# none when unassigned), the inbox and the last update.
# OFFSET 0 keeps each level a separate subquery, so each random() is drawn once per row.
TICKET_ROWS = """(SELECT t.*, CASE WHEN agent_ix IS NOT NULL THEN mod(agent_ix, %(n_teams)s)
                     WHEN r_team < 0.1 THEN NULL ELSE floor(r_team * %(n_teams)s)::int END AS team_ix,
                floor(r_inbox * %(n_inboxes)s)::int AS inbox_ix,
                CASE WHEN status = 'closed' THEN LEAST(now(), created + interval '4 days' + r_time * interval '2 days')
                     ELSE created + r_time * (now() - created) END AS updated
    FROM (SELECT d.*, CASE WHEN status IN ('bot', 'new') OR r_agent < 0.15 THEN NULL
                      ELSE floor(random() * %(n_agents)s)::int END AS agent_ix
          FROM (SELECT gs.*, random() AS r_time, random() AS r_agent, random() AS r_team,
                       random() AS r_inbox, random() AS r_misc, random() AS r_customer,
                       CASE WHEN age < 2 THEN CASE WHEN s < 0.02 THEN 'bot' WHEN s < 0.27 THEN 'new'
                                 WHEN s < 0.62 THEN 'open' WHEN s < 0.82 THEN 'pending'
                                 WHEN s < 0.85 THEN 'on_hold' ELSE 'solved' END
                            WHEN age < 4 THEN CASE WHEN s < 0.05 THEN 'new' WHEN s < 0.30 THEN 'open'
                                 WHEN s < 0.55 THEN 'pending' WHEN s < 0.60 THEN 'on_hold' ELSE 'solved' END
                            WHEN age < 30 THEN CASE WHEN s < 0.10 THEN 'open' WHEN s < 0.20 THEN 'pending'
                                 WHEN s < 0.25 THEN 'on_hold' ELSE 'closed' END
                            ELSE CASE WHEN s < 0.005 THEN 'open' WHEN s < 0.015 THEN 'pending'
                                 WHEN s < 0.02 THEN 'on_hold' ELSE 'closed' END
                       END AS status
                FROM (SELECT g, created, random() AS s, extract(epoch FROM now() - created) / 86400 AS age
                      FROM (SELECT g, now() - (1 - g::float8 / %(n_total)s) * interval '365 days'
                                      - random() * interval '1 hour' AS created
                            FROM generate_series(%(start)s, %(stop)s) AS g OFFSET 0) AS c0
                      OFFSET 0) AS gs
                OFFSET 0) AS d
          OFFSET 0) AS t
    OFFSET 0) AS tk
    JOIN bench_customer_ids c ON c.rn = 1 + floor(tk.r_customer * %(n_customers)s)::int
    ORDER BY g"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to seed (default 100000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario and round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per scenario first")
    parser.add_argument("--runs", type=int, default=3, help="measurement rounds; figures are medians of rounds")
    parser.add_argument("--pages", type=int, default=4, help="next pages followed per chain (cursor scenario)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL of the bench database (env BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="close the database connection before each request (what DATABASE_CONN_MAX_AGE=0 costs in production)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after start-up, as a server process could (full collections then skip start-up objects)",
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each scenario's list query")
    parser.add_argument("--seed-only", action="store_true", help="seed and exit")
    args = parser.parse_args(argv)
    if args.tickets < 1000 or args.requests < 10 or args.runs < 1 or args.pages < 1 or args.warmup < 0:
        parser.error("need --tickets >= 1000, --requests >= 10, --runs >= 1, --pages >= 1, --warmup >= 0")
    return args


# --- Database and Django ------------------------------------------------------------------------------


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ["DEBUG"] = "0"
    # The throttle stays in the stack, at a rate this benchmark cannot reach.
    os.environ["API_USER_RATE"] = "100000000/hour"
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    assert not settings.DEBUG, "DEBUG must be off while measuring"
    call_command("migrate", interactive=False, verbosity=0)


# --- Seeding --------------------------------------------------------------------------------------------


def _insert_select(cursor, model, columns: dict[str, str], source: str, params: dict) -> int:
    """INSERT INTO model's table the rows of `SELECT <columns> FROM <source>`.

    Non-null columns not given are filled with the field's default, so a column added to the model later
    does not break seeding. Expressions and `source` use %(name)s placeholders from `params`."""
    names, values, params = [], [], dict(params)
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in columns:
            expression = columns[field.column]
        elif field.null:
            continue
        elif field.has_default() or getattr(field, "empty_strings_allowed", False):
            key = f"default_{field.column}"
            params[key] = field.get_db_prep_save(field.get_default(), cursor.db)
            expression = f"%({key})s"
        else:
            raise RuntimeError(f"bench: no value for {model.__name__}.{field.name}; teach bench/inbox.py about it")
        names.append(f'"{field.column}"')
        values.append(expression)
    table = model._meta.db_table
    cursor.execute(f'INSERT INTO "{table}" ({", ".join(names)}) SELECT {", ".join(values)} FROM {source}', params)  # noqa: S608
    return cursor.rowcount


def _reference_data():
    """Teams, inboxes, agents, a supervisor, tags: few rows, made with the ORM (idempotent)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from customers.models import Tag
    from helpdesk.models import AgentProfile, Inbox, Role, Team

    user_model = get_user_model()
    teams = []
    for name in TEAMS:
        team, _ = Team.objects.get_or_create(
            name=f"{PREFIX}{name}", defaults={"restrict_to_team_tickets": name == RESTRICTED_TEAM}
        )
        teams.append(team)
    inboxes = []
    for index, (name, kind) in enumerate(INBOXES):
        inbox, _ = Inbox.objects.get_or_create(
            name=f"{PREFIX}{name}", defaults={"kind": kind, "team": teams[index % len(teams)]}
        )
        inboxes.append(inbox)

    def staff(username: str, role: str, team: Team | None):
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        profile, _ = AgentProfile.objects.get_or_create(
            user=user, defaults={"role": role, "display_name": username.removeprefix(PREFIX).title()}
        )
        if team is not None:
            profile.teams.add(team)
        return user

    # Agent k belongs to team k % len(TEAMS); agent 0 is in the restricted team.
    agents = [staff(f"{PREFIX}agent{k:02d}", Role.AGENT, teams[k % len(teams)]) for k in range(AGENTS)]
    supervisor = staff(f"{PREFIX}supervisor", Role.SUPERVISOR, None)
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    tokens = {user.pk: Token.objects.get_or_create(user=user)[0].key for user in (supervisor, agents[0])}
    return {"teams": teams, "inboxes": inboxes, "agents": agents, "supervisor": supervisor, "tags": tags,
            "tokens": tokens}  # fmt: skip


def seed(n_tickets: int, ref) -> None:
    from django.db import connection

    from customers.models import Customer
    from helpdesk.models import Ticket

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        existing = Ticket.objects.count()
        if existing >= n_tickets:
            print(f"seed: database already holds {existing} tickets (>= {n_tickets}), skipping seeding")
            return
        started = time.perf_counter()
        want_customers = max(n_tickets // 5, 1)
        have_customers = Customer.objects.count()
        if have_customers < want_customers:
            added = _insert_select(
                cursor,
                Customer,
                {
                    "name": "'Customer ' || g",
                    "preferred_language": "CASE WHEN random() < 0.3 THEN 'ja' ELSE 'en' END",
                    "preferred_channel": "''",
                    "created_at": "now() - random() * interval '3 years'",
                    "updated_at": "now() - random() * interval '1 year'",
                },
                "generate_series(%(start)s, %(stop)s) AS g",
                {"start": have_customers + 1, "stop": want_customers},
            )
            print(f"seed: {added} customers")
        cursor.execute("DROP TABLE IF EXISTS bench_customer_ids")
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_customer_ids AS "  # noqa: S608
            f'SELECT row_number() OVER (ORDER BY id) AS rn, id FROM "{Customer._meta.db_table}"'
        )
        cursor.execute("SELECT count(*) FROM bench_customer_ids")
        (n_customers,) = cursor.fetchone()

        params = {
            "teams": [team.pk for team in ref["teams"]],
            "agents": [agent.pk for agent in ref["agents"]],
            "inboxes": [inbox.pk for inbox in ref["inboxes"]],
            "kinds": [inbox.kind for inbox in ref["inboxes"]],
            "subjects": SUBJECTS,
            "n_customers": n_customers,
            "n_teams": len(ref["teams"]),
            "n_agents": len(ref["agents"]),
            "n_inboxes": len(ref["inboxes"]),
            "n_total": n_tickets,
        }
        columns = {
            "inbox_id": "(%(inboxes)s::bigint[])[inbox_ix + 1]",
            "customer_id": "c.id",
            "subject": "(%(subjects)s::text[])[1 + mod(g, cardinality(%(subjects)s::text[]))] || ' (' || g || ')'",
            "status": "status",
            "priority": """CASE WHEN r_misc < 0.2 THEN 'low' WHEN r_misc < 0.8 THEN 'normal'
                                WHEN r_misc < 0.95 THEN 'high' ELSE 'urgent' END""",
            "channel": "(%(kinds)s::text[])[inbox_ix + 1]",
            "team_id": "(%(teams)s::bigint[])[team_ix + 1]",
            "assignee_id": "(%(agents)s::int[])[agent_ix + 1]",
            "last_message_seq": "1 + floor(r_misc * r_misc * 12)::int",
            "created_at": "created",
            "updated_at": "updated",
            "first_response_at": "CASE WHEN status IN ('bot', 'new') THEN NULL "
            "ELSE LEAST(updated, created + r_misc * interval '4 hours') END",
            "solved_at": "CASE WHEN status = 'solved' THEN updated "
            "WHEN status = 'closed' THEN updated - interval '96 hours' END",
            "closed_at": "CASE WHEN status = 'closed' THEN updated END",
        }
        cursor.execute("SELECT COALESCE(max(id), 0) FROM helpdesk_ticket")
        (before_max_id,) = cursor.fetchone()
        start = existing + 1
        while start <= n_tickets:
            stop = min(start + CHUNK - 1, n_tickets)
            _insert_select(cursor, Ticket, columns, TICKET_ROWS, {**params, "start": start, "stop": stop})
            print(f"seed: tickets {start}..{stop} ({time.perf_counter() - started:.0f} s)")
            start = stop + 1

        # Tags on ~30% of the new tickets, a second one on ~8%.
        tag_ids = [tag.pk for tag in ref["tags"]]
        through = Ticket.tags.through._meta.db_table
        for fraction, offset in ((0.30, 0), (0.08, 1 + len(tag_ids) // 2)):
            cursor.execute(
                f'INSERT INTO "{through}" (ticket_id, tag_id) '  # noqa: S608
                "SELECT id, (%(tags)s::bigint[])[1 + mod(id + %(offset)s, cardinality(%(tags)s::bigint[]))] "
                'FROM "helpdesk_ticket" WHERE id > %(after)s AND random() < %(fraction)s ON CONFLICT DO NOTHING',
                {"tags": tag_ids, "offset": offset, "after": before_max_id, "fraction": fraction},
            )
        print(f"seed: tags on new tickets ({time.perf_counter() - started:.0f} s)")
        cursor.execute("DROP TABLE bench_customer_ids")
        cursor.execute("ANALYZE")
        print(f"seed: {n_tickets - existing} tickets added and ANALYZE done in {time.perf_counter() - started:.1f} s")


# --- Measurement ------------------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


class Bench:
    def __init__(self, args, ref):
        from django.db import connection
        from django.test import Client

        self.args = args
        self.connection = connection
        self.clients = {
            role: Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Token {ref['tokens'][user.pk]}")
            for role, user in (("supervisor", ref["supervisor"]), ("agent", ref["agents"][0]))
        }

    def get(self, url: str, role: str = "supervisor"):
        if self.args.reconnect:
            self.connection.close()
        response = self.clients[role].get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response

    def _time_sql(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql_ms += (time.perf_counter() - started) * 1000

    def timed(self, url: str, role: str) -> tuple[float, float, dict]:
        """Wall time of one request, and the part of it spent in cursor.execute (round trip to PostgreSQL)."""
        self.sql_ms = 0.0
        with self.connection.execute_wrapper(self._time_sql):
            started = time.perf_counter()
            response = self.get(url, role)
            elapsed = (time.perf_counter() - started) * 1000
        return elapsed, self.sql_ms, response.json()

    def run_list(self, url: str, role: str, count: int) -> list[tuple[float, float]]:
        for _ in range(self.args.warmup):
            self.get(url, role)
        samples = []
        for _ in range(count):
            elapsed, sql_ms, payload = self.timed(url, role)
            samples.append((elapsed, sql_ms))
        assert payload["results"], f"{url} returned no tickets"
        return samples

    def run_pages(self, url: str, role: str, count: int) -> list[tuple[float, float]]:
        """Time `--pages` follow-ups of the `next` cursor from page 1 (page 1 itself is not timed)."""
        samples = []
        warm = self.args.warmup // self.args.pages + 1
        chain = 0
        while len(samples) < count:
            next_url = self.get(url, role).json()["next"]
            for _ in range(self.args.pages):
                assert next_url, "ran out of pages"
                elapsed, sql_ms, payload = self.timed(next_url, role)
                if chain >= warm:
                    samples.append((elapsed, sql_ms))
                next_url = payload["next"]
            chain += 1
        return samples[:count]

    def queries(self, url: str, role: str) -> list[str]:
        from django.test.utils import CaptureQueriesContext

        if url == "pages":
            url = self.get(API, role).json()["next"]
        with CaptureQueriesContext(self.connection) as captured:
            self.get(url, role)
        return [query["sql"] for query in captured.captured_queries]

    def explain(self, sql: str) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    """CPU time (clock ticks) and command line of every process (Linux /proc; empty elsewhere)."""
    ticks = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat, open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ticks[int(entry.name)] = (int(fields[11]) + int(fields[12]), command)
    return ticks


def other_cpu(before: dict, after: dict, seconds: float, backend_pid: int) -> float:
    """CPUs used by other processes than this one, its PostgreSQL backend and that backend's parallel workers."""
    mine = {os.getpid(), backend_pid}
    used = sum(
        ticks - before[pid][0]
        for pid, (ticks, command) in after.items()
        if pid in before and pid not in mine and f"parallel worker for PID {backend_pid}" not in command
    )
    return used / os.sysconf("SC_CLK_TCK") / seconds


def scenarios(ref) -> list[tuple[str, str, str, bool]]:
    """(label, url, role, counts toward inbox_p95_ms). "pages" means: follow `next` from the first page."""
    team = ref["teams"][1].pk
    agent = ref["agents"][1].pk
    tag = ref["tags"][0].name
    return [
        ("list: unfiltered, first page", API, "supervisor", True),
        ("list: status=open&status=pending&team", f"{API}?status=open&status=pending&team={team}", "supervisor", True),
        ("list: assignee&status=open", f"{API}?assignee={agent}&status=open", "supervisor", True),
        ("next cursor: pages 2.., unfiltered", "pages", "supervisor", False),
        ("extra: status=new&unassigned=true", f"{API}?status=new&unassigned=true", "supervisor", False),
        ("extra: tag filter", f"{API}?tag={tag}", "supervisor", False),
        ("extra: team-restricted agent, unfiltered", API, "agent", False),
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    ref = _reference_data()
    seed(args.tickets, ref)
    if args.seed_only:
        return 0

    from django.conf import settings
    from django.db import connection

    from helpdesk.models import Ticket

    bench = Bench(args, ref)
    plan = scenarios(ref)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(f"tickets: {Ticket.objects.count()}  database: {connection.settings_dict['NAME']}  {version.split(',')[0]}")
    print(
        f"DEBUG={settings.DEBUG}  cache={settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}  "
        f"reconnect per request={args.reconnect}  gc.freeze={args.gc_freeze}  cpus={os.cpu_count()}  "
        f"requests={args.requests}  warmup={args.warmup}  runs={args.runs}"
    )

    query_counts = {}
    for label, url, role, _ in plan:
        sqls = bench.queries(url, role)
        query_counts[label] = len(sqls)
        if args.explain:
            print(f"\n== {label}: {len(sqls)} queries")
            for sql in sqls:
                print(f"  {sql[:300]}")
            main_sql = next(sql for sql in sqls if "ORDER BY" in sql and '"helpdesk_ticket"."updated_at" DESC' in sql)
            print(bench.explain(main_sql))

    results: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, *_ in plan}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cursor.fetchone()
    others: list[float] = []
    gc.collect()
    if args.gc_freeze:
        gc.freeze()
    for run in range(args.runs):
        round_started, ticks_before = time.perf_counter(), _cpu_ticks()
        for label, url, role, _ in plan:
            runner = bench.run_pages if url == "pages" else bench.run_list
            samples = runner(API if url == "pages" else url, role, args.requests)
            sql_p50 = statistics.median(sql_ms for _, sql_ms in samples)
            results[label].append((*percentiles([elapsed for elapsed, _ in samples]), sql_p50))
        worst = max(results[label][-1][1] for label, *_, counts in plan if counts)
        others.append(other_cpu(ticks_before, _cpu_ticks(), time.perf_counter() - round_started, backend_pid))
        print(f"round {run + 1}: worst list p95 {worst:.1f} ms; other processes used {others[-1]:.2f} CPUs")

    print(f"\n{'scenario':<44}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'queries':>9}{'SQL p50':>9}")
    medians = {}
    for label, *_ in plan:
        p50, p95, p99, sql_p50 = (statistics.median(values) for values in zip(*results[label], strict=True))
        medians[label] = p95
        print(f"{label:<44}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{query_counts[label]:>9}{sql_p50:>9.1f}")
    print(
        f"(medians of {args.runs} rounds of {args.requests} requests; SQL = time in cursor.execute per request; "
        "'extra' rows are not in inbox_p95_ms)"
    )
    if max(others) > 0.25:
        print(f"note: other processes used up to {max(others):.2f} of {os.cpu_count()} CPUs: figures are inflated")
    worst = max(medians[label] for label, *_, counts in plan if counts)
    print(f"inbox_p95_ms: {worst:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `kostra` command line: run the pipeline, ingest files, query the published warehouse."""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pipeline import interrupt
from pipeline.config import Home
from pipeline.errors import TablesFailed
from pipeline.runlog import RunLog

console = Console(stderr=True, soft_wrap=True)  # never break a path or SQL across lines


def _home() -> Home:
    return Home.from_env().ensure()


# ---------------------------------------------------------------- pipeline runs


def cmd_run(args: argparse.Namespace) -> int:
    if args.live:
        # Before Dagster starts or anything is printed: no network means one line within seconds.
        from pipeline.ssb.client import live_roots

        v0_root, v2_root = live_roots()
        _preflight(v0_root, v2_root, args.tables.split(",") if args.tables else None)

    from orchestration import run as runner
    from orchestration.partitions import release_keys
    from orchestration.resources import StatbankResource

    home = _home()
    # A bad KOSTRA_FOCUS fails now, not after the ingest.
    comparison = runner.comparison_from_env(group=args.group)
    with ExitStack() as stack:
        if args.live:
            statbank = StatbankResource(v0_root=v0_root, v2_root=v2_root)
            keys = release_keys()[-1:]  # live SSB serves only the current release of each table
            console.print(
                "[bold]Live run[/bold] against SSB's statbank: current release of every catalogue table"
            )
        else:
            server, keys = _start_demo(home, stack)
            statbank = StatbankResource(asof_root=server.url)
        if args.release_keys:
            # Checked before anything started (_check_run). The ingest runs the range oldest..newest.
            first, last = args.release_keys[0], args.release_keys[-1]
            keys = [k for k in keys if first <= k <= last]
            if not keys:
                raise SystemExit(f"--releases {args.releases}: none of these releases exist")
        console.print(f"Ingesting releases {keys[0]} … {keys[-1]} ({len(keys)} publications)")
        failures: list[str] = []
        try:
            runner.ingest(home, statbank, keys, table_ids=args.tables.split(",") if args.tables else None)
        except TablesFailed as exc:
            failures = exc.failures  # the other tables were landed: build them, then say what failed
    # The demo server has stopped; its cached cubes and tables (hundreds of MB) need not outlive it.
    server = statbank = None
    _build(runner, home, comparison)
    for line in failures:
        console.print(f"[red]failed:[/red] {escape(line)}")
    return 1 if failures else 0


PREFLIGHT_CONNECT_TIMEOUT = 5.0


def _preflight(v0_root: str, v2_root: str, table_ids: Sequence[str] | None = None) -> None:
    """Can the statbank be reached at all? Its config and the first catalogue table's record, with a short
    connect timeout and one retry; raises :class:`SsbUnreachable` (one line: the host, what to check)."""
    from pipeline.landing.ingest import catalogue_filters
    from pipeline.ssb.client import SsbClient
    from pipeline.ssb.errors import SsbQueryError

    first = (list(table_ids or []) or sorted(catalogue_filters()) or [None])[0]
    with SsbClient(
        v0_root,
        v2_root,
        retries=1,
        timeout=30,
        connect_timeout=PREFLIGHT_CONNECT_TIMEOUT,
        backoff_factor=0.5,
        progress=False,
    ) as client:
        client.limits()
        if first:
            # Reachable is enough here: the table itself is checked (and reported) when it is fetched.
            with suppress(SsbQueryError):
                client.table_info(first)


def _ensure_demo(home: Home) -> None:
    """Generate the demo release into the home unless it is there already."""
    from pipeline.demo.generate import generate

    if not (home.demo_dir / "releases.json").exists():
        console.print(f"Generating the demo release (synthetic values, real structure) in {home.demo_dir} …")
        generate(home.demo_dir)


def _start_demo(home: Home, stack: ExitStack):
    from pipeline.demo.server import DemoSource, serve

    _ensure_demo(home)
    source = DemoSource(home.demo_dir)
    # The demo statbank advertises generous limits on its config endpoint (the client reads them there):
    # SSB's 30 calls a minute would make replaying ten years of releases take half an hour.
    server = stack.enter_context(serve(source, max_calls=1000, window_seconds=1))
    keys = [r["key"] for r in json.loads((home.demo_dir / "releases.json").read_text())]
    console.print(f"Demo statbank (DEMO DATA) serving on {server.url}")
    return server, keys


def _build(runner, home: Home, comparison) -> None:
    """The build job's run (raw cells, dbt, quality, publish) for ``comparison``, then the summary."""
    group = " + ".join([comparison.canonical_group, *comparison.extra_comparators])
    console.print(
        f"Building raw cells, dbt models and publishing the warehouse "
        f"(focus {comparison.focus_municipality}, compared with {group}) …"
    )
    runner.build(home, comparison)
    _print_summary(home)


def cmd_build(args: argparse.Namespace) -> int:
    from orchestration import run as runner

    home = _home()
    _build(runner, home, runner.comparison_from_env(group=args.group))
    return 0


def cmd_ingest_file(args: argparse.Namespace) -> int:
    from pipeline.config import duckdb_memory_limit
    from pipeline.errors import RunFailed
    from pipeline.landing.ingest import ingest_files
    from pipeline.landing.store import LandingStore
    from pipeline.raw.load import connect, load_pending

    home = _home()
    try:
        duckdb_memory_limit()  # the load keeps to it: a bad value is one line before anything is landed
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    store = LandingStore(home.landing)
    done = ingest_files(store, args.paths)
    for item in done:
        state = "already landed" if item.record.is_noop else "landed"
        console.print(
            f"{item.path}: table {item.record.table_id}, release {item.record.updated}, "
            f"{item.record.cells:,} cells — {state}"
        )
    con = connect(home.build_db)
    try:
        result = load_pending(con, store, {i.record.table_id for i in done})
    finally:
        con.close()
    console.print(
        f"Loaded {result.cells_loaded:,} new cells into the build file. "
        "Run [bold]kostra build[/bold] to build the marts and publish."
    )
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch each table on its own: one table's failure is reported and the others still fetched."""
    from pipeline.landing.ingest import IngestError, catalogue_filters, ingest_table
    from pipeline.landing.store import LandingStore
    from pipeline.report.summary import FetchOutcome, print_fetch_outcomes
    from pipeline.ssb.client import SsbClient
    from pipeline.ssb.errors import SsbError, SsbUnreachable

    home = _home()
    store = LandingStore(home.landing)
    filters = catalogue_filters()
    tables = args.tables or sorted(filters)
    client = SsbClient(args.v0_root, args.v2_root, progress=None)
    outcomes: list[FetchOutcome] = []
    for table_id in tables:
        try:
            rec = ingest_table(client, store, table_id, filters.get(table_id), years=args.years)
        except SsbUnreachable:
            raise  # no connection: every other table would fail the same way
        except (SsbError, IngestError) as exc:
            outcomes.append(FetchOutcome(table_id, error=exc))
            console.print(f"[red]table {table_id}: failed[/red] — {escape(_reason(exc))}")
            continue
        outcomes.append(FetchOutcome(table_id, record=rec))
        if rec is None:
            console.print(f"table {table_id}: current release already landed")
        else:
            console.print(f"table {table_id}: landed release {rec.updated}, {rec.cells:,} cells")
    return print_fetch_outcomes(outcomes, console=console)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or str(exc)


def cmd_catalogue_check(args: argparse.Namespace) -> int:
    """Every catalogue row against metadata (live SSB, a PxWebApi server or recorded responses)."""
    from pipeline.ssb.catalogue_check import (
        LiveMetadata,
        RecordedMetadata,
        catalogue_rows,
        check_catalogue,
        format_report,
        write_patch,
    )
    from pipeline.ssb.client import SsbClient, live_roots

    if args.metadata_dir:
        metadata = RecordedMetadata(args.metadata_dir)
        patch_status = "confirmed"  # a real recorded response shows it (not live metadata)
    else:
        v0_root, v2_root = live_roots() if args.live else _server_roots(args.server)
        client = SsbClient(
            v0_root, v2_root, retries=2, connect_timeout=PREFLIGHT_CONNECT_TIMEOUT, progress=False
        )
        metadata = LiveMetadata(client)
        patch_status = "confirmed_live"
    rows = catalogue_rows()
    results = check_catalogue(rows, metadata)
    for line in format_report(results, metadata.name):
        print(line)
    if args.write_patch:
        from pipeline.reference.catalogue import load_catalogue

        n = write_patch(
            results, args.write_patch, status=patch_status, columns=list(load_catalogue().columns)
        )
        print(f"Wrote {n} confirmed rows to {args.write_patch} for review (the seed is unchanged).")
    return 1 if any(r.fails for r in results) else 0


def _server_roots(url: str) -> tuple[str, str]:
    """(v0, v2) roots of a PxWebApi server given by its base URL (or either root)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SystemExit(f"error: --server {url!r}: not an http(s) URL (e.g. http://127.0.0.1:8765)")
    base = url.rstrip("/")
    for suffix in ("/api/pxwebapi/v2", "/api/v0"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return f"{base}/api/v0", f"{base}/api/pxwebapi/v2"


def cmd_serve_demo(args: argparse.Namespace) -> int:
    from pipeline.demo.server import serve_demo

    home = _home()
    _ensure_demo(home)
    serve_demo(home, host=args.host, port=args.port)
    return 0


def cmd_generate_demo(args: argparse.Namespace) -> int:
    from pipeline.demo.generate import generate

    home = _home()
    out = Path(args.out) if args.out else home.demo_dir
    generate(out, seed=args.seed)
    console.print(f"Demo release (DEMO DATA: synthetic values, real structure) written to {out}")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """The data-quality report of the published warehouse (the checks run in every build)."""
    from pipeline.quality.run import MembersError, group_members, members_only, read_findings, write_report_of

    home = _home()
    if not home.published_db.exists():
        console.print(
            f"[red]no published warehouse at {escape(str(home.published_db))}: run `kostra run` first[/red]"
        )
        return 2
    findings = read_findings(home.published_db)
    whose = "the published warehouse"
    if args.members is not None:
        try:
            findings, scope = members_only(
                findings, group_members(home.published_db, args.members), args.members
            )
        except MembersError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            return 2
        whose = (
            f"the {len(scope.members)} {scope.group} members ({scope.left_out:,} findings about other "
            "municipalities, aggregates or whole tables left out)"
        )
    counts = findings["severity"].value_counts().to_dict()
    # The counts are the command's answer: stdout, so they can be piped; problems stay on stderr.
    out = Console(soft_wrap=True)
    out.print(
        f"Data-quality findings of {whose}: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("FATAL", "ERROR", "WARNING", "INFO"))
    )
    if args.out:
        out.print(f"Report: {write_report_of(home.published_db, Path(args.out), members=args.members)}")
    return 0


# ---------------------------------------------------------------- analyst access


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from pipeline.publish import sandbox

    try:
        sandbox.check(args.sql)
    except sandbox.RefusedStatement as exc:
        console.print(f"[red]refused:[/red] {escape(str(exc))}")
        return 2
    path = _home().published_db
    if not path.exists():
        console.print(
            f"[red]no published warehouse at {escape(str(path))}: run `make demo`, `kostra run` or "
            "`kostra build` first[/red]"
        )
        return 2
    try:
        con = sandbox.connect(path)
    except duckdb.Error as exc:
        console.print(
            f"[red]{escape(str(path))} does not open as a warehouse:[/red] {escape(sandbox.one_line(exc))}"
        )
        return 2
    try:
        rel = con.sql(args.sql)
        if rel is None:
            return 0
        table = rel.to_arrow_table()
    except Exception as exc:  # duckdb raises several error classes; all are the user's SQL
        console.print(f"[red]query failed:[/red] {escape(sandbox.one_line(exc))}")
        return 2
    finally:
        con.close()
    _print_table(table, args.format)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.publish.export import export

    out, rows = export(
        _home(), args.what, args.municipality, args.format, Path(args.out), excel=args.excel, group=args.group
    )
    console.print(f"Wrote {rows:,} rows of marts.{args.what} to {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.config import Comparison
    from pipeline.report.build import ReportError, write_municipality, write_network
    from pipeline.report.content import Request

    home = _home()
    if args.network:
        if args.municipality or args.comparator or args.vintage:
            raise ReportError(
                "--network: the overview covers every member; leave out --municipality, "
                "--comparator and --vintage"
            )
        written = write_network(home, args.format, Path(args.out), year=args.year, group=args.group)
    else:
        request = Request(
            municipality=args.municipality or Comparison.from_env().focus_municipality,
            year=args.year,
            vintage=args.vintage,
            comparators=tuple(args.comparator or ()),
            group=args.group,
        )
        written = write_municipality(home, request, args.format, Path(args.out))
    console.print(f"Wrote {escape(written.title)} ({args.format}) to {escape(str(written.path))}")
    return 0


def _print_table(table, fmt: str) -> None:
    import pyarrow.csv as pacsv

    if fmt == "csv":
        sink = sys.stdout.buffer
        pacsv.write_csv(table, sink)
        sink.flush()
    elif fmt == "json":
        sys.stdout.write(json.dumps(table.to_pylist(), default=str, ensure_ascii=False, indent=1) + "\n")
    else:
        from rich.table import Table

        out = Console()
        t = Table(show_lines=False)
        for name in table.column_names:
            t.add_column(name)
        for row in table.to_pylist():
            t.add_row(*("" if v is None else _fmt(v) for v in row.values()))
        out.print(t)
        out.print(f"{table.num_rows:,} rows")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}".replace(",", " ")
    return str(v)


def _print_summary(home: Home) -> None:
    from pipeline.report.summary import print_summary

    print_summary(home, console=Console())


def cmd_summary(args: argparse.Namespace) -> int:
    _print_summary(_home())
    return 0


# ---------------------------------------------------------------- landing store


def _landing_loaded(home: Home) -> set[str] | None:
    """The landed objects already loaded into the build file; None when the file cannot be read now (a build
    is writing it)."""
    import duckdb

    from pipeline.raw.load import loaded_objects

    if not home.build_db.exists():
        return set()
    try:
        con = duckdb.connect(str(home.build_db), read_only=True)
    except duckdb.Error:
        return None
    try:
        return loaded_objects(con)
    except duckdb.CatalogException:  # a build file without raw.landing_objects has loaded nothing
        return set()
    finally:
        con.close()


def cmd_landing_list(args: argparse.Namespace) -> int:
    """One line per landed object: release, table, updated, sha256, bytes, state (and why, if quarantined)."""
    from pipeline.landing.store import LandingStore
    from pipeline.ssb.calendar import release_for
    from pipeline.ssb.vintage import parse_updated

    home = _home()
    store = LandingStore(home.landing)
    held = store.quarantined()
    loadable: set[str] = set()
    blocked: set[str] = set()
    for rec in store.fetches(include_quarantined=True):
        (blocked if held.keys() & set(rec.objects) else loadable).update(rec.objects)
    loaded = _landing_loaded(home)
    if loaded is None:
        console.print(
            f"[yellow]the build file {escape(str(home.build_db))} is in use by a build: objects not "
            "quarantined show as 'landed' (loaded or pending)[/yellow]"
        )
    counts: dict[str, int] = {}
    print(f"{'release':<7}  {'table':<6}  {'updated':<20}  {'sha256':<64}  {'bytes':>11}  state")
    for row in store.objects():
        sha = row.sha256
        if sha in held:
            state = "quarantined"
        elif loaded is not None and sha in loaded:
            state = "loaded"
        elif sha in loadable:
            state = "pending" if loaded is not None else "landed"
        elif sha in blocked:
            state = "blocked"  # another part of its fetch is quarantined
        else:
            state = "incomplete"  # its fetch never finished: no build loads it
        if args.state and state != args.state:
            continue
        counts[state] = counts.get(state, 0) + 1
        try:
            moment = parse_updated(row.updated)
        except ValueError:
            moment = None
        publication = release_for(moment) if moment else None
        size = store.object_size(sha)
        line = (
            f"{publication.key if publication else '-':<7}  {row.table_id:<6}  {row.updated or '-':<20}  "
            f"{sha}  {size if size is not None else 'missing':>11}  {state}"
        )
        if state == "quarantined":
            q = held[sha]
            line += f"  {q.reason} ({q.quarantined_at[:19]}Z, {q.quarantined_by}, {q.command})"
            if loaded and sha in loaded:
                line += "; its cells loaded before stay in raw.cells"
        elif state == "blocked":
            line += "  another part of its fetch is quarantined"
        print(line)
    total = sum(counts.values())
    console.print(
        f"{total} landed object{'s' if total != 1 else ''}"
        + (": " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts else "")
    )
    return 0


def cmd_landing_quarantine(args: argparse.Namespace) -> int:
    """Take landed objects out of what builds load, keeping their bytes, with the reason."""
    from pipeline.landing.store import LandingStore

    home = _home()
    store = LandingStore(home.landing)
    shas = store.resolve(args.ref)
    held = store.quarantined()
    loaded = _landing_loaded(home) or set()
    command = f"kostra landing quarantine {args.ref}"
    for sha in shas:
        if sha in held:
            q = held[sha]
            console.print(f"{sha}: already quarantined since {q.quarantined_at[:19]}Z: {escape(q.reason)}")
            continue
        q = store.quarantine(sha, args.reason, command=command)
        kept = " (its cells already in raw.cells stay there)" if sha in loaded else ""
        console.print(
            f"quarantined {sha}: table {q.table_id}, release {q.updated or '-'}{kept}. Builds leave it out; "
            "the next `kostra fetch` or `kostra run` fetches the release again."
        )
    return 0


def cmd_landing_release(args: argparse.Namespace) -> int:
    """Take quarantined objects back into what builds load."""
    from pipeline.landing.store import LandingStore

    store = LandingStore(_home().landing)
    for sha in store.resolve(args.ref, among=store.quarantined()):
        q = store.release(sha, command=f"kostra landing release {args.ref}")
        console.print(
            f"released {sha}: table {q.table_id}, release {q.updated or '-'} (quarantined "
            f"{q.quarantined_at[:19]}Z: {escape(q.reason)}). Builds take it again: the next one loads it (unless it "
            "was loaded before) if it passes the load's checks."
        )
    return 0


def _add_landing_parser(sub) -> None:
    ref_help = (
        "a sha256, a unique sha256 prefix (4+ hex digits), or a release key TABLE@UPDATED "
        "(e.g. 13502@2024-06 or 13502@2024-06-17T06:00:00Z)"
    )
    la = sub.add_parser("landing", help="the landing store: list landed objects, quarantine or release them")
    lsub = la.add_subparsers(dest="landing_command", required=True)
    ll = lsub.add_parser(
        "list", help="one line per landed object: release, table, updated, sha256, bytes, state"
    )
    ll.add_argument(
        "--state",
        choices=["loaded", "pending", "landed", "quarantined", "blocked", "incomplete"],
        help="only objects in this state",
    )
    ll.set_defaults(func=cmd_landing_list)
    lq = lsub.add_parser(
        "quarantine",
        help="take a landed object out of what builds load (its bytes are kept) so its release is fetched again",
    )
    lq.add_argument("ref", help=ref_help)
    lq.add_argument("--reason", required=True, help="why (kept with the quarantine, reported by the build)")
    lq.set_defaults(func=cmd_landing_quarantine)
    lr = lsub.add_parser("release", help="take a quarantined object back into what builds load")
    lr.add_argument("ref", help=ref_help)
    lr.set_defaults(func=cmd_landing_release)


# ---------------------------------------------------------------- checking the arguments


class UsageError(Exception):
    """A command-line value that cannot be right: one line and exit code 2, before any work starts."""


# orchestration.partitions.FIRST_RELEASE (a test keeps them equal), without importing Dagster for a check.
FIRST_DATA_YEAR = 2015
FIRST_RELEASE = "2016-03"
_RELEASE_KEY = re.compile(r"\d{4}-\d{2}")


def published_releases(now: datetime | None = None) -> list[str]:
    """Every KOSTRA publication out by ``now`` (default: now), oldest first, by the publication calendar."""
    from pipeline.ssb import calendar

    now = now or datetime.now(UTC)
    last = max(FIRST_DATA_YEAR, now.year - 1)
    return [r.key for r in calendar.releases(FIRST_DATA_YEAR, last) if r.updated <= now]


def parse_releases(arg: str, now: datetime | None = None) -> list[str]:
    """The releases ``--releases`` names, oldest first: comma-separated release keys and ranges FROM..TO
    (inclusive), each a KOSTRA publication (YYYY-03 or YYYY-06) from 2016-03 to the current release.

    Anything else is a :class:`UsageError` naming ``--releases`` and the bad value."""
    from pipeline.ssb import calendar

    out = published_releases(now)
    current = out[-1]
    items = [item.strip() for item in arg.split(",")]
    if not any(items):
        raise UsageError(
            f"--releases {arg!r}: no release keys given (e.g. 2024-03,2024-06 or 2016-03..2025-06)"
        )

    def key(text: str) -> str:
        if not _RELEASE_KEY.fullmatch(text):
            raise UsageError(
                f"--releases {arg}: {text!r} is not a release key (YYYY-03 or YYYY-06, e.g. {current})"
            )
        year, month = int(text[:4]), int(text[5:])
        if month not in calendar.RELEASE_MONTHS:
            raise UsageError(
                f"--releases {arg}: {text} is not a release: KOSTRA publishes in March (YYYY-03) and "
                f"June (YYYY-06), not in month {text[5:]}"
            )
        if text < FIRST_RELEASE:
            raise UsageError(f"--releases {arg}: {text} is before the first release, {FIRST_RELEASE}")
        if text > current:
            due = calendar.publication_date(year, month)
            raise UsageError(
                f"--releases {arg}: {text} is not out yet (due {due.isoformat()}); "
                f"the current release is {current}"
            )
        return text

    wanted: set[str] = set()
    for item in items:
        if not item:
            raise UsageError(f"--releases {arg}: an empty release key between commas")
        start, dots, end = item.partition("..")
        first = key(start.strip())
        last = key(end.strip()) if dots else first
        if first > last:
            raise UsageError(f"--releases {arg}: the range {item} is reversed (write {last}..{first})")
        wanted.update(k for k in out if first <= k <= last)
    return sorted(wanted)


def _demo_releases(home: Home) -> list[str]:
    """The releases the demo statbank serves: the generated demo's, or the ones it will be generated with."""
    import inspect

    from pipeline.ssb import calendar

    with suppress(OSError, ValueError, KeyError, TypeError):
        return sorted(r["key"] for r in json.loads((home.demo_dir / "releases.json").read_text()))
    from pipeline.demo.generate import generate

    params = inspect.signature(generate).parameters
    return [r.key for r in calendar.releases(params["first_year"].default, params["last_year"].default)]


def _check_group(args: argparse.Namespace) -> None:
    """``--group``: one of the comparison-group forms (pipeline.config.normalise_comparison_group), checked
    before anything starts; ``similar`` is the group of ``--municipality`` (or of the focus)."""
    from pipeline.config import COMPARISON_GROUP_FORMS, Comparison, normalise_comparison_group

    if getattr(args, "group", None) is None:
        return
    focus = getattr(args, "municipality", None) or Comparison.from_env().focus_municipality
    try:
        normalise_comparison_group(args.group, focus)
    except ValueError:
        raise UsageError(f"--group {args.group!r}: use {COMPARISON_GROUP_FORMS}") from None


def _check_run(args: argparse.Namespace) -> None:
    """``kostra run``'s arguments, before any demo generation, server, fetch or Dagster run."""
    _check_group(args)
    args.release_keys = None
    if args.releases is None:
        return
    keys = parse_releases(args.releases)
    if args.live:
        current = published_releases()[-1]
        if keys != [current]:
            raise UsageError(
                f"--releases {args.releases}: a live run fetches SSB's current release only ({current})"
            )
    else:
        demo = _demo_releases(Home.from_env())
        missing = [k for k in keys if k not in set(demo)]
        if missing:
            raise UsageError(
                f"--releases {args.releases}: the demo statbank serves releases {demo[0]}..{demo[-1]}, "
                f"not {', '.join(missing)}"
            )
    args.release_keys = keys


# ---------------------------------------------------------------- entry point


GROUP_HELP = (
    "comparison group: 'asss' (default), a KOSTRA group ('EKG13' or 'kostra:2020:EKG12'), a list "
    "('list:0301,4601,5001') or 'similar' (the municipality's nearest by structure)"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kostra",
        description="kostra-warehouse: SSB's KOSTRA key figures in DuckDB for ASSS benchmarking. "
        "State lives in $KOSTRA_HOME (default: warehouse/).",
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the whole pipeline (default: on the embedded demo release)")
    r.add_argument(
        "--live", action="store_true", help="fetch from SSB's statbank instead of the demo release"
    )
    r.add_argument("--tables", help="comma-separated table ids (default: every table in the catalogue)")
    r.add_argument(
        "--releases",
        help="release keys and ranges, comma-separated, e.g. 2024-03,2024-06 or 2016-03..2025-06 (default: all); "
        "the run ingests every release from the oldest to the newest named",
    )
    r.add_argument("--group", default=None, help=GROUP_HELP + " (default: $KOSTRA_COMPARISON_GROUP)")
    r.set_defaults(func=cmd_run, check=_check_run)

    b = sub.add_parser("build", help="load what has been landed, build the marts and publish")
    b.add_argument("--group", default=None, help=GROUP_HELP + " (default: $KOSTRA_COMPARISON_GROUP)")
    b.set_defaults(func=cmd_build, check=_check_group)

    f = sub.add_parser(
        "ingest-file", help="land JSON-stat2 files saved from SSB (v0 or v2) like fetched ones"
    )
    f.add_argument("paths", nargs="+", type=Path)
    f.set_defaults(func=cmd_ingest_file)

    g = sub.add_parser("fetch", help="fetch the current release of tables from SSB and land them")
    g.add_argument("tables", nargs="*", help="table ids (default: every table in the catalogue)")
    g.add_argument("--years", default="latest", help="'latest' (default), 'all'")
    g.add_argument("--v0-root", default=None, help="PxWebApi v0 root (default: SSB)")
    g.add_argument("--v2-root", default=None, help="PxWebApi v2 root (default: SSB)")
    g.set_defaults(func=cmd_fetch)

    c = sub.add_parser("catalogue", help="the indicator catalogue: check it against statbank metadata")
    csub = c.add_subparsers(dest="catalogue_command", required=True)
    ck = csub.add_parser(
        "check",
        help="every catalogue row's status and its verdict against metadata; exit 1 if any row fails",
    )
    src = ck.add_mutually_exclusive_group(required=True)
    src.add_argument("--live", action="store_true", help="SSB's live metadata (KOSTRA_SSB_V0/V2_ROOT)")
    src.add_argument("--server", help="a PxWebApi server's base URL, e.g. http://127.0.0.1:8765")
    src.add_argument(
        "--metadata-dir", type=Path, help="a folder of recorded JSON-stat2 responses (codes seen only)"
    )
    ck.add_argument(
        "--write-patch", type=Path, help="write the rows the metadata confirms to this CSV for review"
    )
    ck.set_defaults(func=cmd_catalogue_check)

    q = sub.add_parser("query", help="run read-only SQL against the published warehouse")
    q.add_argument("sql")
    fmt = q.add_mutually_exclusive_group()
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv")
    fmt.add_argument("--json", dest="format", action="store_const", const="json")
    q.set_defaults(func=cmd_query, format="table")

    e = sub.add_parser("export", help="export a mart (optionally one municipality) as csv, parquet or xlsx")
    e.add_argument("--what", default="service_profile", help="mart name, e.g. service_profile (default)")
    e.add_argument("--municipality", default=None, help="municipality id (current code), e.g. 3201")
    e.add_argument("--format", default="csv", choices=["csv", "parquet", "xlsx"])
    e.add_argument("--out", required=True, help="output file")
    e.add_argument(
        "--excel",
        action="store_true",
        help="csv for Norwegian Excel: ';'-separated, decimal comma, UTF-8 with BOM, Norwegian headers",
    )
    e.add_argument(
        "--group",
        default=None,
        help=GROUP_HELP + "; must be the group the warehouse was built against (default: that group)",
    )
    e.set_defaults(func=cmd_export, check=_check_group)

    rp = sub.add_parser(
        "report",
        help="the KOSTRA report of a municipality against its comparison group (or --network) as html, pdf or xlsx",
    )
    rp.add_argument(
        "--municipality", default=None, help="municipality code (default: the focus, KOSTRA_FOCUS)"
    )
    rp.add_argument(
        "--network", action="store_true", help="the network overview: every member, sector by sector"
    )
    rp.add_argument("--year", type=int, default=None, help="data year (default: the newest)")
    rp.add_argument(
        "--vintage",
        choices=["unrevised", "revised"],
        default=None,
        help="only figures of this vintage (default: the newest figures of the year)",
    )
    rp.add_argument(
        "--comparator",
        action="append",
        default=None,
        metavar="CODE",
        help="a municipality to show beside it (repeatable; default: KOSTRA_COMPARATORS)",
    )
    rp.add_argument(
        "--group",
        default=None,
        help=GROUP_HELP + "; must be the group the warehouse was built against (default: that group)",
    )
    rp.add_argument("--format", default="html", choices=["html", "pdf", "xlsx"])
    rp.add_argument("--out", required=True, help="output file")
    rp.set_defaults(func=cmd_report, check=_check_group)

    s = sub.add_parser("serve-demo", help="serve the demo release on a local PxWebApi-compatible server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.set_defaults(func=cmd_serve_demo)

    d = sub.add_parser("generate-demo", help="write the deterministic demo release")
    d.add_argument("--out", default=None)
    d.add_argument("--seed", type=int, default=20240617)
    d.set_defaults(func=cmd_generate_demo)

    dq = sub.add_parser(
        "quality", help="the data-quality findings of the published warehouse (checked in every build)"
    )
    dq.add_argument("--out", default=None, help="write the report (index.html, findings.json) to this folder")
    dq.add_argument(
        "--members",
        default=None,
        metavar="GROUP",
        help="only the findings of the comparison group's members (ASSS, or the EKGnn the warehouse is built for)",
    )
    dq.set_defaults(func=cmd_quality)

    m = sub.add_parser("summary", help="what the published warehouse holds")
    m.set_defaults(func=cmd_summary)

    _add_landing_parser(sub)
    return p


# The commands that only read (their output is the answer) write no log file; every other one does.
UNLOGGED_COMMANDS = {"query", "summary"}
# The long commands: SIGINT and SIGTERM stop them within seconds (pipeline.interrupt).
STOPPABLE_COMMANDS = {"run", "build", "fetch"}


def _log_name(args: argparse.Namespace) -> str:
    """``run``, ``catalogue-check``: the command and its sub-command."""
    subs = [v for k, v in sorted(vars(args).items()) if k.endswith("_command") and isinstance(v, str)]
    return "-".join([args.command, *subs])


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # urllib3 logs each retry as a WARNING, which Python prints to stderr when no handler is set; the
    # client's own error says what failed.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        if getattr(args, "check", None) is not None:
            args.check(args)
    except UsageError as exc:  # before the log file: a bad argument writes nothing under the home
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    log = RunLog(Home.from_env().root / "logs", _log_name(args), None if argv is None else list(argv))
    if args.command not in UNLOGGED_COMMANDS:
        log.start()
    code: int | None = None
    try:
        code = _dispatch(args, log)
    finally:
        log.close(code)
    if argv is None:
        # The `kostra` program, done or stopped: end now. Python's own teardown of Dagster, dbt and DuckDB
        # objects takes seconds (2.3 s after a one-table build), and there is nothing left to do (children
        # ended, log closed, no database left open, nothing half-written) but the exit handlers
        # (multiprocessing's release its semaphores, or its tracker warns of a leak).
        with suppress(Exception):
            atexit._run_exitfuncs()
        with suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    return code


def _dispatch(args: argparse.Namespace, log: RunLog) -> int:
    where = f" (log: {escape(str(log.path))})" if log.path else ""
    try:
        with ExitStack() as stack:
            if args.command in STOPPABLE_COMMANDS:
                stack.enter_context(
                    interrupt.stop_on_signals(farewell=partial(_farewell, log), on_stop=lambda _: log.mute())
                )
            code = args.func(args)
    except interrupt.Stopped as stop:
        log.mute(False)
        console.print(f"[red]{escape(interrupt.stop_line(stop))}[/red]{where}")
        return stop.exit_code
    except KeyboardInterrupt:
        console.print(f"[red]interrupted[/red]: the published warehouse is unchanged{where}")
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, str):
            log.note(exc.code + "\n")  # Python prints it on the terminal once the log is closed
        raise
    except Exception as exc:
        from pipeline.errors import is_user_error

        if is_user_error(exc):
            console.print(f"[red]error:[/red] {escape(str(exc))}{where}")
            return 1
        log.note_traceback()
        if log.path:
            console.print(f"log: {escape(str(log.path))}")
        raise
    if code and log.path:
        console.print(f"log: {escape(str(log.path))}")
    return code


def _farewell(log: RunLog, stop: interrupt.Stopped) -> None:
    """The last words of a command the watchdog has to end itself (its main thread did not finish in time)."""
    line = interrupt.stop_line(stop) + (f" (log: {log.path})" if log.path else "") + "\n"
    # Straight to the terminal: the step the watchdog gave up on may still have Dagster's capture on fd 2.
    log.note(line)
    if not interrupt.to_terminal(line):
        log.mute(False)
        sys.__stderr__.write(line)
    log.close(stop.exit_code)


if __name__ == "__main__":
    sys.exit(main())

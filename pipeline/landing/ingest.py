"""Ingest: bring SSB responses into the landing store, from the statbank API or from files.

Both routes end in the same place (``LandingStore.land``), so a file saved from SSB and a fetched response
are treated alike: same release key (table id + ``updated``), same vintage rule, same manifest.

Before a table is fetched, its live table record and metadata are checked against what the catalogue asks
for (:mod:`pipeline.ssb.validate`): a discontinued or unknown table, an unknown dimension or an unknown
contents or filter code stops that table's fetch with :class:`SsbCatalogueMismatch`, naming the nearest real
codes, instead of a bare "Non-existent value" from SSB halfway through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline import timestamps
from pipeline.landing.store import FetchRecord, LandingStore, Part
from pipeline.raw.jsonstat import JsonStatError, decode
from pipeline.raw.load import LoadError, table_id_of, time_dimension
from pipeline.ssb.errors import SsbCatalogueMismatch, SsbCatalogueTableMissing, SsbNoSuchTable
from pipeline.ssb.validate import TableCodes, check_selection, failures, summarise
from pipeline.ssb.vintage import parse_updated


class IngestError(RuntimeError):
    """An input could not be ingested; the message names the file or table."""


@dataclass(frozen=True)
class FileIngest:
    path: Path
    record: FetchRecord


def _newest_period(ds) -> str | None:
    dim = time_dimension(ds)
    return max(dim.codes) if dim and dim.codes else None


def ingest_files(store: LandingStore, paths: Iterable[Path | str]) -> list[FileIngest]:
    """Land JSON-stat2 documents saved from SSB (v0 or v2), each as one complete fetch.

    Every file is validated before anything is landed, so one bad file in a batch stores nothing.
    """
    store.sweep()  # a killed writer's temporary files, even if every file turns out to be landed already
    prepared = []
    for raw_path in paths:
        path = Path(raw_path)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
        try:
            ds = decode(body)
        except JsonStatError as exc:
            raise IngestError(f"{path}: not a JSON-stat2 dataset as SSB returns them: {exc}") from exc
        try:
            table_id = table_id_of(ds)
        except LoadError as exc:
            raise IngestError(f"{path}: {exc}") from exc
        if not ds.updated:
            raise IngestError(
                f"{path}: table {table_id} has no 'updated' timestamp, so its release is unknown"
            )
        try:
            parse_updated(ds.updated)
        except ValueError as exc:
            raise IngestError(f"{path}: table {table_id}: {exc}") from exc
        prepared.append((path, table_id, ds, body))
    out = []
    for path, table_id, ds, body in prepared:
        part = Part(body=body, query=None, cells=ds.n_cells, newest_period=_newest_period(ds))
        rec = store.land(table_id, [part], updated=ds.updated, source=f"file:{path.resolve()}")
        out.append(FileIngest(path, rec))
    return out


def fetch_selection(
    table_id: str,
    filters: Mapping[str, Iterable[str]] | None,
    *,
    years: str | list[str],
    newest_period: str | None,
) -> dict[str, list[str] | str]:
    """The query for one table: the catalogue's dimension filters, every region, and the years wanted.

    ``years`` is ``"all"``, ``"latest"`` (only the table's newest period: what a March or June release
    adds or revises) or an explicit list of periods.
    """
    selection: dict[str, list[str] | str] = {k: sorted(set(v)) for k, v in (filters or {}).items() if v}
    if years == "all":
        selection["Tid"] = "*"
    elif years == "latest":
        if not newest_period:
            raise IngestError(f"table {table_id}: the metadata lists no periods, so 'latest' is undefined")
        selection["Tid"] = [newest_period]
    elif isinstance(years, list) and years:
        selection["Tid"] = [str(y) for y in years]
    else:
        raise IngestError(
            f"table {table_id}: years must be 'all', 'latest' or a list of periods, not {years!r}"
        )
    return selection


def ingest_table(
    client,
    store: LandingStore,
    table_id: str,
    filters: Mapping[str, Iterable[str]] | None = None,
    *,
    years: str | list[str] = "latest",
    source: str | None = None,
    wanted: Mapping[str, Mapping[str, str | None]] | None = None,
    validate: bool = True,
    sweep: bool = True,
) -> FetchRecord | None:
    """Fetch one table's current release if it is not landed yet; None when there is nothing new.

    The first fetch of a table takes every year; later ones only what the new release changed. First the
    table record (``GET /tables/{id}``) and the metadata are checked against ``filters`` (labelled by
    ``wanted`` = {dimension: {code: catalogue label}}, by default the catalogue's own labels): any mismatch
    raises :class:`SsbCatalogueMismatch` before a data request is sent. ``sweep=False``: the caller has swept
    the store already (an ingest of many releases sweeps once, not once per release).
    """
    if sweep:
        store.sweep()  # a killed writer's temporary files, even if the release turns out to be landed already
    check = validate_table if validate else lambda c, t, *_: c.table_metadata(t)
    meta = check(client, table_id, filters, wanted)
    updated = timestamps.format_z(meta.updated) if meta.updated else None
    landed = store.releases().get(table_id, set())
    if updated and any(parse_updated(u) == parse_updated(updated) for u in landed if u):
        return None
    time_var = next((v for v in meta.variables if v.time or v.code == "Tid"), None)
    newest = max(time_var.values) if time_var and time_var.values else None
    wanted = "all" if not landed else years
    selection = fetch_selection(table_id, filters, years=wanted, newest_period=newest)
    spec = _catalogue_spec(table_id)
    eliminate = [d for d in (spec.summed_dimensions if spec else ()) if d not in selection]
    fetch = (
        client.fetch(table_id, selection, eliminate=eliminate)
        if eliminate
        else client.fetch(table_id, selection)
    )
    fetched_updated = timestamps.format_z(fetch.updated) if fetch.updated else updated
    parts = [Part(body=p.body, query=p.query, cells=p.cells, newest_period=newest) for p in fetch.parts]
    return store.land(table_id, parts, updated=fetched_updated, source=source or client.v0_root)


def validate_table(
    client,
    table_id: str,
    filters: Mapping[str, Iterable[str]] | None,
    wanted: Mapping[str, Mapping[str, str | None]] | None = None,
):
    """Check the selection against the table's live record and metadata; the metadata if it fits.

    Raises :class:`SsbCatalogueMismatch` (an :class:`SsbQueryError`, so a Dagster asset fails at once
    instead of retrying) naming the table, each unknown code and the nearest real codes by label.
    """
    spec = _catalogue_spec(table_id)
    labels = _wanted_labels(filters, wanted if wanted is not None else _spec_labels(spec))
    discontinued = False
    if hasattr(client, "table_info"):
        try:
            discontinued = client.table_info(table_id).discontinued
        except SsbNoSuchTable as exc:
            raise SsbCatalogueTableMissing(
                "the catalogue names this table but the statbank has no such table "
                f"(SSB answered: {exc.reason.removeprefix('SSB refused the query: ')}); "
                "check the table id in the catalogue's ssb_tables seed",
                table_id=table_id,
                url=exc.url,
                status=exc.status,
            ) from exc
    meta = client.table_metadata(table_id)
    # A table the catalogue already knows has ended (last year or successor set) may still be read.
    ended = spec is not None and (
        getattr(spec, "last_year", None) is not None or getattr(spec, "successor_table_id", None)
    )
    findings = check_selection(
        table_id,
        labels,
        TableCodes.from_metadata(meta, source=client.v0_root),
        discontinued=discontinued and not ended,
    )
    bad = failures(findings)
    if bad:
        raise SsbCatalogueMismatch(
            "the catalogue does not match the live metadata: " + summarise(bad, with_table=False),
            findings=bad,
            table_id=table_id,
            query={k: list(v) for k, v in (filters or {}).items()},
        )
    return meta


def _wanted_labels(
    filters: Mapping[str, Iterable[str]] | None, labels: Mapping[str, Mapping[str, str | None]]
) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for dim, codes in (filters or {}).items():
        known = labels.get(dim, {})
        out[dim] = {str(c): known.get(str(c)) for c in codes}
    return out


def _catalogue_spec(table_id: str):
    """The catalogue's TableSpec of ``table_id``, or None (a table outside the catalogue, a broken seed)."""
    try:
        from pipeline.reference.catalogue import tables

        return tables().get(table_id)
    except Exception:  # noqa: BLE001 - the catalogue only adds labels here; a fetch must not depend on it
        return None


def _spec_labels(spec) -> dict[str, dict[str, str]]:
    if spec is None:
        return {}
    return {dim: dict(zip(codes, labels, strict=False)) for dim, codes, labels in spec.dimensions if codes}


def catalogue_filters() -> dict[str, dict[str, list[str]]]:
    """Per catalogue table, the codes to fetch of each dimension the catalogue names codes for.

    Dimensions without codes in the catalogue (region, time) are fetched whole. Derived rows have no
    table and are never fetched.
    """
    from pipeline.reference.catalogue import tables

    return {
        table_id: {
            dim: list(codes)
            for dim, codes, _labels in spec.dimensions
            if codes and dim not in spec.summed_dimensions
        }
        for table_id, spec in tables().items()
        if table_id
    }

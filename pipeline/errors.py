"""Which errors are the user's input (shown as one clear line) rather than bugs (shown with a traceback)."""

from __future__ import annotations


class RunFailed(RuntimeError):
    """A pipeline run failed; the published warehouse is unchanged."""


class TablesFailed(RunFailed):
    """Some tables could not be ingested; the others were landed. ``failures`` is one line per table."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} table(s) failed: " + "; ".join(failures))


def user_error_types() -> tuple[type[BaseException], ...]:
    from pipeline.landing.ingest import IngestError
    from pipeline.landing.store import LandingError
    from pipeline.publish.export import ExportError
    from pipeline.publish.warehouse import PublishError
    from pipeline.raw.jsonstat import JsonStatError
    from pipeline.raw.load import LoadError
    from pipeline.report.build import ReportError
    from pipeline.ssb.errors import SsbError

    return (
        IngestError,
        ExportError,
        JsonStatError,
        LandingError,
        LoadError,
        PublishError,
        ReportError,
        SsbError,
        RunFailed,
        # A home under a regular file, a folder without write permission, a full disk: the OS's own words
        # name the path, which is what the user needs.
        OSError,
    )


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, user_error_types())

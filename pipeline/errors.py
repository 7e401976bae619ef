"""Which errors are the user's input (shown as one clear line) rather than bugs (shown with a traceback)."""

from __future__ import annotations

import sys


class RunFailed(RuntimeError):
    """A pipeline run failed; the published warehouse is unchanged."""


class TablesFailed(RunFailed):
    """Some tables could not be ingested; the others were landed. ``failures`` is one line per table."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} table(s) failed: " + "; ".join(failures))


# The user-input errors of the pipeline's modules, by module. An exception can only be one of these once its
# module has been imported, so the check looks in sys.modules instead of importing them all: a one-line error
# of `kostra landing` must not first load the report builder, pandas and matplotlib.
_USER_ERRORS = {
    "pipeline.landing.ingest": "IngestError",
    "pipeline.landing.store": "LandingError",
    "pipeline.publish.export": "ExportError",
    "pipeline.publish.warehouse": "PublishError",
    "pipeline.raw.jsonstat": "JsonStatError",
    "pipeline.raw.load": "LoadError",
    "pipeline.report.build": "ReportError",
    "pipeline.ssb.errors": "SsbError",
}


def user_error_types() -> tuple[type[BaseException], ...]:
    loaded = [getattr(sys.modules[m], name) for m, name in _USER_ERRORS.items() if m in sys.modules]
    # A home under a regular file, a folder without write permission, a full disk: the OS's own words name the
    # path, which is what the user needs.
    return (*loaded, RunFailed, OSError)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, user_error_types())

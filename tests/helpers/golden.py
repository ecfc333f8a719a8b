"""A syrupy extension that stores one readable Markdown file per scenario under golden/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden"


def _case(test_location: Any) -> str:
    """The scenario id a golden test is parametrized with, e.g. 'examples/refund/unpaid_cancel'."""
    nodename = str(test_location.nodename)
    if not nodename.startswith("test_golden["):
        # syrupy asks every test that takes a snapshot; only golden tests own files here.
        return f"_not_golden/{nodename.replace('/', '_')}"
    return nodename[nodename.index("[") + 1 : nodename.rindex("]")]


class GoldenMarkdown(SingleFileSnapshotExtension):
    """Writes `golden/<policy family>/<scenario path>.md`, so a policy change reads as a diff."""

    _write_mode = WriteMode.TEXT
    file_extension = "md"

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(GOLDEN / Path(_case(test_location)).parent)

    @classmethod
    def discovery_dirname(cls, *, test_location: Any) -> str:
        return cls.dirname(test_location=test_location)

    @classmethod
    def get_snapshot_name(cls, *, test_location: Any, index: Any = 0) -> str:
        # The name must equal the file's stem: syrupy compares the names it reads back from
        # disk with the names tests used, and reports (and deletes) the ones that differ.
        return Path(_case(test_location)).name

    @classmethod
    def matches_test_location(cls, *, test_location: Any, snapshot_location: str) -> bool:
        own = cls.get_location(test_location=test_location, index=0)
        return Path(own).resolve() == Path(snapshot_location).resolve()

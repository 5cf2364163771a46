"""No name, citizen ID, birth date or household number from the person records, nor the
hash secret, leaves the restricted layers: not in any mart, export file (GeoPackage,
Excel, PNG, HTML), the Dagster event log, materialisation and check metadata, or the files
Dagster keeps; Data Docs are written only under the restricted folder. One scanner, run
against a DuckDB and a PostGIS (production mode) materialisation of a synthetic province.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from assets.privacy import DEVELOPMENT_SECRET
from assets.quality.defs import data_docs_dir
from assets.warehouse import Warehouse
from pipelines.runner import run_province
from pipelines.settings import Settings

pytestmark = pytest.mark.integration

PRODUCTION_SECRET = "leak-test production secret, 32 bytes or more"
# Metadata kinds that carry counts, short labels or paths; tables and markdown would be
# previews of rows, which Dagster shows in the UI.
COUNT_METADATA = (
    dg.IntMetadataValue,
    dg.FloatMetadataValue,
    dg.BoolMetadataValue,
    dg.TextMetadataValue,
    dg.PathMetadataValue,
    dg.JsonMetadataValue,
    dg.NullMetadataValue,
    dg.TimestampMetadataValue,
)


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass
class Materialised:
    """One province run, with everything it wrote that the scan reads."""

    settings: Settings
    run_id: str
    instance: dg.DagsterInstance
    data_docs: Path
    instance_dir: Path | None = None  # files Dagster kept (run and event storage, logs)


def needle_pattern(needles: set[str]) -> re.Pattern[str]:
    """One regex matching any of ``needles``, built as a trie: each text is read once
    (testing 10,000 needles one by one with ``in`` took a minute per run)."""
    trie: dict = {}
    for needle in filter(None, needles):
        node = trie
        for char in needle:
            node = node.setdefault(char, {})
        node[""] = {}

    def alternatives(node: dict) -> str:
        branches = [re.escape(c) + alternatives(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        if "" in node:  # a needle ends here; longer ones may go on
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(alternatives(trie))


@dataclass
class Scan:
    """What was read, per place, and every personal value or secret found there."""

    needles: set[str]
    read: dict[str, int] = field(default_factory=dict)
    hits: dict[str, list[str]] = field(default_factory=dict)
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pattern = needle_pattern(self.needles)

    def text(self, place: str, item: str, text: str) -> None:
        """Look for every needle in ``text``, also after undoing JSON and HTML escapes
        (Dagster's serialisation writes Vietnamese names as \\uXXXX)."""
        self.read[place] = self.read.get(place, 0) + 1
        text += "\n" + html.unescape(_JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text))
        found = sorted(set(self.pattern.findall(text)))
        if found:
            self.hits[f"{place}: {item}"] = found[:5]


def personal_values(warehouse: Warehouse) -> set[str]:
    """Citizen IDs, names, household numbers and birth dates (two spellings) of the records."""
    persons = warehouse.read_table("staging.persons")
    households = warehouse.read_table("staging.households")
    values = set(persons["citizen_id"].dropna()) | set(persons["full_name"].dropna())
    values |= set(persons["household_id"].dropna()) | set(households["household_id"].dropna())
    dates = persons["birth_date"].dropna()
    values |= set(dates.dt.strftime("%Y-%m-%d")) | set(dates.dt.strftime("%d/%m/%Y"))
    assert len(values) > 1000
    return values


def _file_texts(path: Path) -> Iterator[tuple[str, str]]:
    """Every text a file holds: xlsx members unzipped, binaries read as UTF-8 bytes."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                yield f"{path.name}:{name}", archive.read(name).decode("utf-8", "ignore")
    else:
        yield path.name, path.read_bytes().decode("utf-8", "ignore")


def _metadata(records: list) -> Iterator[tuple[str, str, object]]:
    """(event, label, value) of every materialisation, observation and check evaluation."""
    for record in records:
        for event in (record.asset_materialization, record.asset_observation):
            if event is not None:
                key = event.asset_key.to_user_string()
                yield from ((key, label, v) for label, v in event.metadata.items())
        evaluation = record.asset_check_evaluation
        if evaluation is not None:
            name = evaluation.check_name
            yield from ((name, label, v) for label, v in evaluation.metadata.items())


def scan(run: Materialised, needles: set[str]) -> Scan:
    """Read every mart, export file, event, metadata value, Dagster file and Data Docs
    page of ``run`` for ``needles``."""
    found = Scan(needles)
    warehouse = Warehouse(run.settings.warehouse_url)
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        for table in warehouse.table_names("marts"):
            frame = warehouse.read_table(f"marts.{table}", con=con)
            text = frame.drop(columns="geometry", errors="ignore").astype(str).to_csv()
            found.text("marts", table, text)
    for path in sorted(p for p in run.settings.exports_root.rglob("*") if p.is_file()):
        for name, text in _file_texts(path):
            found.text("exports", name, text)
    records = run.instance.all_logs(run.run_id)
    for record in records:
        found.text("event log", record.dagster_event_type or "message", serialize_value(record))
    for event, label, value in _metadata(records):
        found.text("metadata", f"{event} {label}", serialize_value(value))
        if not isinstance(value, COUNT_METADATA):
            found.hits[f"metadata: {event} {label}"] = [type(value).__name__]
    for path in sorted(run.data_docs.rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "ignore")
            found.text("data docs", str(path.relative_to(run.data_docs)), text)
    if run.instance_dir is not None:
        for path in sorted(p for p in run.instance_dir.rglob("*") if p.is_file()):
            found.text("dagster files", path.name, path.read_bytes().decode("utf-8", "ignore"))
    return found


@pytest.fixture(params=["duckdb", "postgis"])
def materialised(request, tmp_path, monkeypatch) -> Materialised:
    """The shared DuckDB run (development mode), or a fresh run into PostGIS in
    production mode with its own secret, exports and Data Docs under ``tmp_path``."""
    if request.param == "duckdb":
        settings, report = request.getfixturevalue("published")
        warehouse = Warehouse(settings.warehouse_url)
        return Materialised(
            settings=settings,
            run_id=report.run_id,
            instance=request.getfixturevalue("pipeline_instance"),
            data_docs=data_docs_dir(warehouse),
        )
    postgres_url = request.getfixturevalue("postgres_url")
    small_landing = request.getfixturevalue("small_landing")
    monkeypatch.chdir(tmp_path)  # Data Docs of a PostgreSQL warehouse: ./data/restricted
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home))
    settings = Settings(
        warehouse_url=postgres_url,
        landing_root=small_landing.parent,
        exports_dir=tmp_path / "exports",
        mode="production",
        hash_secret=PRODUCTION_SECRET.encode(),
    )
    report = run_province(settings, instance=instance)
    assert report.success, report.errors
    docs = data_docs_dir(Warehouse(postgres_url))
    assert docs == Path("data/restricted/data_docs")
    return Materialised(settings, report.run_id, instance, tmp_path / docs, instance_dir=home)


def test_nothing_personal_leaves_the_restricted_layers(materialised):
    """One test per backend (a PostGIS run takes a minute): scan, Data Docs, references."""
    _assert_no_personal_value_or_secret_is_found(materialised)
    _assert_data_docs_are_only_under_the_restricted_folder(materialised)
    _assert_record_references_hide_the_raw_values(materialised)


def _assert_no_personal_value_or_secret_is_found(run: Materialised) -> None:
    warehouse = Warehouse(run.settings.warehouse_url)
    needles = personal_values(warehouse) | {DEVELOPMENT_SECRET.decode(), PRODUCTION_SECRET}
    found = scan(run, needles)
    assert not found.hits, found.hits
    # The scan did read every place: all marts, each kind of export file, the event log.
    marts = {t for t in warehouse.table_names("marts") if not t.endswith("_current")}
    assert {"merged_units", "merger_options", "validation_summary"} <= marts
    assert found.read["marts"] == len(warehouse.table_names("marts"))
    suffixes = {p.suffix for p in run.settings.exports_root.rglob("*")}
    assert {".gpkg", ".xlsx", ".png", ".html"} <= suffixes, suffixes
    assert found.read["event log"] > 50 and found.read["metadata"] > 50
    assert found.read["data docs"] > 5
    if run.instance_dir is not None:
        assert found.read["dagster files"] > 0
    # The event log does speak of the person records, by counts.
    text = "\n".join(serialize_value(r) for r in run.instance.all_logs(run.run_id))
    assert "staging/persons" in text or "staging.persons" in text


def _assert_data_docs_are_only_under_the_restricted_folder(run: Materialised) -> None:
    docs = run.data_docs
    assert "restricted" in docs.parts and (docs / "index.html").exists()
    assert (docs / "RESTRICTED.txt").exists()
    warehouse = Warehouse(run.settings.warehouse_url)
    roots = {run.settings.exports_root}
    roots.add(warehouse.path.parent if warehouse.kind == "duckdb" else Path.cwd())
    for root in roots:
        for page in root.rglob("*.html"):
            if "Great Expectations" in page.read_text("utf-8", errors="ignore"):
                assert docs.resolve() in page.resolve().parents, page


def _assert_record_references_hide_the_raw_values(run: Materialised) -> None:
    """The run's references (the resource the assets get) are keyed, stable, and show no
    citizen ID or household number; production's differ from development's."""
    settings = run.settings
    references = settings.record_references
    assert references.is_development == (settings.mode == "development")
    persons = Warehouse(settings.warehouse_url).read_table("staging.persons")
    for column in ("citizen_id", "household_id"):
        values = persons[column].dropna()
        refs = references.of(values)
        assert refs.str.fullmatch(r"[0-9a-f]{64}").all()
        assert refs.equals(references.of(values.copy()))
        assert refs.nunique() == values.nunique()
        assert not needle_pattern(set(values)).findall("\n".join(refs)), column
        if settings.mode == "production":
            assert not (refs == Settings().record_references.of(values)).any()


def test_the_scanner_finds_values_however_they_are_escaped():
    found = Scan({"001090012345", "Nguyễn Văn An", "01/02/1990", "Trần Thị B"})
    found.text("a", "plain", "id 0010900123456 and Trần Thị Bình")
    found.text("a", "json", '{"name": "Nguy\\u1ec5n V\\u0103n An"}')
    found.text("a", "html", "born 01&#x2F;02&#x2F;1990")
    found.text("a", "clean", "0010900 Nguyễn Văn Bình, Nguyen Van An, 1990-02-01")
    assert found.hits == {
        "a: plain": ["001090012345", "Trần Thị B"],
        "a: json": ["Nguyễn Văn An"],
        "a: html": ["01/02/1990"],
    }
    assert found.read == {"a": 4}

"""Persons streamed in chunks of whole communes (issue 22: a 14 M-person province in memory).

A small province is generated twice, whole and in chunks of ~500 households, so that
what chunking must keep (totals, unique citizen IDs, ground truth pointing at the
file's rows, a file the raw layer reads) is checked at a size a test can afford.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.raw.landing import Landing, load_raw
from synthetic.errors import ERROR_TYPES, PERSON
from synthetic.files import HEAD
from synthetic.province import SynthesisSummary, _chunk_bounds, synthesise_province

ARGS = {"seed": 5, "households": 3000, "n_communes": 6, "error_rate": 0.04}
CHUNK = 500
PERSON_TYPES = [t.name for t in ERROR_TYPES if t.unit == PERSON]


def _generate(out: Path, **extra: int) -> tuple[SynthesisSummary, pd.DataFrame, pd.DataFrame]:
    summary = synthesise_province(out, **ARGS, **extra)
    persons = pd.read_csv(out / "persons.csv", dtype=str, keep_default_na=False)
    planted = pd.read_csv(out / "ground_truth" / "planted_errors.csv")
    return summary, persons, planted


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    whole = tmp_path_factory.mktemp("whole")
    chunked = tmp_path_factory.mktemp("chunked")
    return {
        "whole": (whole, *_generate(whole)),
        "chunked": (chunked, *_generate(chunked, chunk_households=CHUNK)),
    }


def test_chunks_are_whole_communes_and_several() -> None:
    hamlets = pd.DataFrame({"commune_code": ["a", "a", "b", "c", "c"]})
    hh = pd.DataFrame({"_hamlet": np.repeat(np.arange(5), [3, 2, 4, 1, 6])})
    assert _chunk_bounds(hamlets, hh, 5) == [0, 5, 16]  # b (4) is joined by c (7)
    assert _chunk_bounds(hamlets, hh, 4) == [0, 5, 9, 16]
    assert _chunk_bounds(hamlets, hh, 100) == [0, 16]


def test_same_totals_as_the_whole_run(runs: dict[str, tuple]) -> None:
    w_dir, whole, w_persons, w_planted = runs["whole"]
    c_dir, chunked, c_persons, c_planted = runs["chunked"]
    assert (chunked.households, chunked.hamlets) == (whole.households, whole.hamlets)
    assert chunked.persons == whole.persons == len(c_persons) == len(w_persons)
    # Household sizes are drawn as the whole run draws them: the same truth per hamlet.
    truth = "ground_truth/hamlets_truth.csv"
    assert (c_dir / truth).read_bytes() == (w_dir / truth).read_bytes()
    per_type_whole = w_planted["error_type"].value_counts()
    per_type_chunked = c_planted["error_type"].value_counts()
    for name in PERSON_TYPES:
        # Planting may fall short only where a chunk lacks candidates: ±1 per chunk.
        assert (
            abs(per_type_chunked.get(name, 0) - per_type_whole.get(name, 0)) <= ARGS["n_communes"]
        ), name
        assert per_type_chunked.get(name, 0) > 0, name
    # Household, registry and geometry errors do not depend on the persons: unchanged.
    others = ~w_planted["error_type"].isin(PERSON_TYPES)
    assert (
        c_planted[~c_planted["error_type"].isin(PERSON_TYPES)]
        .reset_index(drop=True)
        .equals(w_planted[others].reset_index(drop=True))
    )


def test_citizen_ids_unique_across_chunks(runs: dict[str, tuple]) -> None:
    _, summary, persons, planted = runs["chunked"]
    copies = planted.loc[
        planted["error_type"].isin(["citizen_id_duplicate", "person_duplicate_typo_no_id"]), "row"
    ]
    ids = persons["Số ĐDCN"].drop(index=copies.to_numpy() - 1)
    assert (ids != "").all()
    assert ids.is_unique
    # Several chunks really were made, and the planted rows reach into the last one.
    assert planted.loc[planted["file"] == "persons.csv", "row"].max() > summary.persons - 1000


def test_ground_truth_rows_point_at_the_planted_values(runs: dict[str, tuple]) -> None:
    _, _, persons, planted = runs["chunked"]
    rows = planted[planted["file"] == "persons.csv"]
    at = {name: persons.iloc[g["row"].to_numpy() - 1] for name, g in rows.groupby("error_type")}
    assert (at["sex_missing"]["Giới tính"] == "").all()
    assert (at["household_no_head"]["Quan hệ với chủ hộ"] == "").all()
    assert (at["household_two_heads"]["Quan hệ với chủ hộ"] == HEAD).all()
    assert (at["head_under_15"]["Quan hệ với chủ hộ"] == HEAD).all()
    assert (at["person_duplicate_typo_no_id"]["Số ĐDCN"] == "").all()
    malformed = at["citizen_id_malformed"]["Số ĐDCN"]
    assert not malformed.str.fullmatch(r"\d{12}").any()
    century = at["citizen_id_bad_century_digit"]["Số ĐDCN"].str[3].astype(int)
    assert (century >= 4).all()
    duplicated = at["citizen_id_duplicate"]["Số ĐDCN"]
    counts = persons["Số ĐDCN"].value_counts()
    assert (counts[duplicated.to_numpy()] >= 2).all()
    unparseable = pd.to_datetime(
        at["birth_date_unparseable"]["Ngày sinh"], format="%d/%m/%Y", errors="coerce"
    )
    assert unparseable.isna().all()
    future = pd.to_datetime(at["birth_date_future"]["Ngày sinh"], format="%d/%m/%Y")
    assert (future > pd.Timestamp("2026-01-01")).all()


def test_chunked_persons_file_is_read_by_the_raw_layer(runs: dict[str, tuple]) -> None:
    out, summary, persons, _ = runs["chunked"]
    raw = load_raw(Landing(out).file("persons"))
    assert len(raw) == summary.persons
    assert raw["source_row_number"].tolist() == list(range(1, summary.persons + 1))
    assert raw["read_problem"].isna().all()
    assert raw["citizen_id"].fillna("").tolist() == persons["Số ĐDCN"].tolist()
    data = (out / "persons.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert data.count(b"\r\n") == summary.persons + 1 and data.count(b"\n") == summary.persons + 1


def test_file_mess_is_refused_with_chunks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_mess"):
        synthesise_province(tmp_path, **ARGS, file_mess=True, chunk_households=CHUNK)
    assert not any(tmp_path.iterdir())

"""Which probable-duplicate clusters are reported: those whose records do not all carry
one citizen ID (a shared ID is already an error of its own)."""

from __future__ import annotations

import pandas as pd

from assets.quality.duplicates import probable_duplicate_issues


def _persons(ids: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {"record_id": list(ids), "citizen_id": pd.array(list(ids.values()), dtype="string")}
    )


def test_only_clusters_without_one_shared_id_are_reported():
    persons = _persons(
        {
            "p1": "001090000001",  # cluster A: one ID twice -> not reported
            "p2": "001090000001",
            "p3": "001090000002",  # cluster B: two IDs -> reported
            "p4": "001090000003",
            "p5": "001090000004",  # cluster C: one ID and a missing one -> reported
            "p6": None,
            "p7": None,  # cluster D: no ID at all -> reported
            "p8": None,
            "p9": "001090000005",  # cluster E: three records, one ID -> not reported
            "p10": "001090000005",
            "p11": "001090000005",
            "p12": "001090000006",  # cluster F: three records, one differs -> reported
            "p13": "001090000006",
            "p14": "001090000007",
        }
    )
    clusters = {
        "A": ["p1", "p2"],
        "B": ["p3", "p4"],
        "C": ["p5", "p6"],
        "D": ["p7", "p8"],
        "E": ["p9", "p10", "p11"],
        "F": ["p12", "p13", "p14"],
    }
    duplicates = pd.DataFrame(
        [(c, r, 0.97) for c, members in clusters.items() for r in members],
        columns=["cluster_id", "record_id", "match_probability"],
    ).astype({"cluster_id": "string", "record_id": "string"})
    issues = probable_duplicate_issues(duplicates.sample(frac=1.0, random_state=3), persons)
    reported = {r for c in "BCDF" for r in clusters[c]}
    assert sorted(issues["record_id"]) == sorted(reported)
    assert set(issues["rule"]) == {"probable_duplicate"}
    assert set(issues["severity"]) == {"warning"}
    row = issues.set_index("record_id").loc["p13"]
    assert "group p12, p13, p14," in row["message"] and "0.97" in row["message"]
    assert "001090000006" not in " ".join(issues["message"])  # no citizen ID in a message

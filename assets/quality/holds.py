"""Households held in quarantine with their members, and counts that reconcile per commune.

A household record with an error-level issue (an unknown hamlet code, a missing or
repeated key) cannot be counted in any hamlet. It is held, with its reasons, and its
members are held with it (reason ``household_held:<its issue kinds>``, never a personal
value), so no member stays "clean" while counted nowhere. A household none of whose
members is counted (all held, or none recorded) is held too: planning counts a household
only through its clean members. Then, per commune, every staged record is either counted
in a hamlet or held, exactly once: :func:`count_reconciliation_by_commune` proves it.

A held household's commune is its hamlet's; when the hamlet code is unknown, the commune
whose boundary contains the household's point, so the marts can show the commune what
its figures do not yet include.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from assets.quality.households import WITHOUT_MEMBERS
from assets.quality.issues import issue_rows
from assets.quality.record_checks import split_clean_quarantined
from assets.warehouse import Session, Warehouse
from expectations.schemas import TABLES
from geodata.crs import STORAGE_CRS

PERSONS = "staging.persons"
HOUSEHOLDS = "staging.households"
HOUSEHOLD_HELD = "household_held"
MEMBERS_HELD = "members_held"
UNKNOWN_COMMUNE = "unknown"


def held_household_kinds(issues: pd.DataFrame, households: pd.DataFrame) -> pd.Series:
    """Per household ID whose record has an error-level issue: its issue kinds (rules,
    sorted, "+"-joined). Issues name household records by ``record_id``."""
    errors = issues[issues["table_name"].eq(HOUSEHOLDS) & issues["severity"].eq("error")]
    keyed = households[["record_id", "household_id"]].astype("string").dropna()
    rules = errors[["record_id", "rule"]].astype("string").merge(keyed, on="record_id")
    kinds = rules.groupby("household_id")["rule"].agg(lambda r: "+".join(sorted(set(r))))
    return kinds.astype("string")


def member_hold_issues(persons: pd.DataFrame, kinds: pd.Series) -> pd.DataFrame:
    """Error rows holding each member of a held household (for the split only: the
    issue is the household's, reported once on its record)."""
    household = persons["household_id"].astype("string")
    their = household.map(kinds)
    held = their.notna().to_numpy(dtype=bool)
    return issue_rows(
        PERSONS,
        persons.loc[held, "record_id"].astype("string"),
        rule=HOUSEHOLD_HELD,
        field_name="",
        message="",
    ).assign(field_name=their[held].to_numpy())


def _communes_of_points(households: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """The commune whose boundary contains each household's point (null: none, or no point)."""
    x = pd.to_numeric(households["longitude"], errors="coerce")
    y = pd.to_numeric(households["latitude"], errors="coerce")
    points = gpd.GeoDataFrame(
        {"position": np.arange(len(households))},
        geometry=gpd.points_from_xy(x, y),
        crs=STORAGE_CRS,
    )
    points = points[x.notna().to_numpy() & y.notna().to_numpy()]
    shapes = gpd.GeoDataFrame(communes[["commune_code", "geometry"]]).to_crs(STORAGE_CRS)
    hits = points.sjoin(shapes, predicate="within").drop_duplicates("position")
    out = pd.Series(pd.NA, index=households.index, dtype="string")
    out.iloc[hits["position"].to_numpy()] = hits["commune_code"].astype("string").to_numpy()
    return out


def hold_households(
    households: pd.DataFrame,
    issues: pd.DataFrame,
    members: pd.Series,
    counted_members: pd.Series,
    hamlets: pd.DataFrame,
    communes: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """``quality.households_quarantined``: household records with an error-level issue,
    or whose members are all held (``members_held``) or none recorded
    (``household_without_members``), each with its reasons.

    ``members`` and ``counted_members`` are staged and clean person records per
    household ID. Nothing else is held: the other households are those counted.
    """
    own = issues[issues["table_name"].eq(HOUSEHOLDS) & issues["severity"].eq("error")]
    ids = households["household_id"].astype("string")
    staged = ids.map(members).fillna(0).to_numpy()
    counted = ids.map(counted_members).fillna(0).to_numpy()
    # Households whose own record holds them already need no second reason.
    free = ~households["record_id"].astype("string").isin(own["record_id"]).to_numpy()
    uncounted = free & (counted == 0)
    extra = [
        issue_rows(
            HOUSEHOLDS,
            households.loc[uncounted & (staged > 0), "record_id"].astype("string"),
            rule=MEMBERS_HELD,
            field_name="household_id",
            message="every member of the household is held",
        ),
        issue_rows(
            HOUSEHOLDS,
            households.loc[uncounted & (staged == 0), "record_id"].astype("string"),
            rule=WITHOUT_MEMBERS,
            field_name="household_id",
            message="no person record belongs to this household",
        ),
    ]
    _, held = split_clean_quarantined(
        households.astype({"record_id": "string"}),
        pd.concat([own, *extra], ignore_index=True),
    )
    place = hamlets.drop_duplicates("hamlet_code").set_index("hamlet_code")["commune_code"]
    commune = held["hamlet_code"].astype("string").map(place).astype("string")
    lost = commune.isna().to_numpy()
    if lost.any():
        commune[lost] = _communes_of_points(held[lost], communes).to_numpy()
    held = held.assign(commune_code=commune)
    table = TABLES["quality.households_quarantined"]
    return table.enforce(held[list(table.columns)].reset_index(drop=True))


def household_communes(
    households: pd.DataFrame, hamlets: pd.DataFrame, held: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """The commune of each household record (aligned on ``households``) and of each
    household ID: a held household's recorded commune, else its hamlet's."""
    place = hamlets.drop_duplicates("hamlet_code").set_index("hamlet_code")["commune_code"]
    by_hamlet = households["hamlet_code"].astype("string").map(place).astype("string")
    by_hold = (
        households["record_id"]
        .astype("string")
        .map(held.set_index("record_id")["commune_code"])
        .astype("string")
    )
    commune = by_hold.where(households["record_id"].astype("string").isin(held["record_id"]))
    commune = commune.fillna(by_hamlet).astype("string")
    return commune, smallest_per_household(households["household_id"], commune)


def smallest_per_household(household_ids: pd.Series, values: pd.Series) -> pd.Series:
    """The smallest of ``values`` (text, aligned with ``household_ids``) per household
    ID, pairs with a null left out; indexed by household ID, ascending.

    One sort and a drop of repeats: pandas' groupby ``min`` on text falls back to a
    Python call per group, which at a province's million households took most of the
    reconciliation's time."""
    pairs = pd.DataFrame(
        {
            "household_id": household_ids.astype("string").to_numpy(),
            "value": values.astype("string").to_numpy(),
        }
    ).dropna()
    first = pairs.sort_values(["household_id", "value"], kind="stable").drop_duplicates(
        "household_id"
    )
    return pd.Series(
        first["value"].to_numpy(),
        index=pd.Index(first["household_id"].to_numpy(), dtype="string", name="household_id"),
        dtype="string",
    )


def count_reconciliation_by_commune(
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    held_households: pd.DataFrame,
    staged_persons: pd.Series,
    held_persons: pd.Series,
    compliance: pd.DataFrame,
) -> pd.DataFrame:
    """Per commune (``unknown`` when none can be found): households and persons staged,
    counted in hamlets (``planning.hamlet_compliance``) and held in quarantine, and
    whether staged = counted + held for both.

    ``staged_persons`` and ``held_persons`` are person records per household ID (a
    missing ID counts under a null key); a person's commune is its household's.
    """
    commune, per_id = household_communes(households, hamlets, held_households)

    def by_commune(per_household: pd.Series) -> pd.Series:
        keys = pd.Series(per_household.index, dtype="string").map(per_id)
        return (
            pd.Series(per_household.to_numpy(), index=keys.fillna(UNKNOWN_COMMUNE).to_numpy())
            .groupby(level=0)
            .sum()
        )

    held_in = held_households["commune_code"].astype("string").fillna(UNKNOWN_COMMUNE)
    counted = compliance.groupby(compliance["commune_code"].astype("string"))[
        ["households", "population"]
    ].sum()
    out = pd.DataFrame(
        {
            "households_staged": commune.fillna(UNKNOWN_COMMUNE).value_counts(),
            "households_counted": counted["households"],
            "households_held": held_in.value_counts(),
            "persons_staged": by_commune(staged_persons),
            "persons_counted": counted["population"],
            "persons_held": by_commune(held_persons),
        }
    )
    out = out.fillna(0).astype("int64").rename_axis("commune_code").reset_index()
    out["reconciles"] = out["households_staged"].eq(
        out["households_counted"] + out["households_held"]
    ) & out["persons_staged"].eq(out["persons_counted"] + out["persons_held"])
    return out.sort_values("commune_code", ignore_index=True)


def reconciliation_failures(table: pd.DataFrame) -> list[str]:
    """One line per commune whose records are counted nowhere or twice (counts only)."""
    lines = []
    for row in table[~table["reconciles"]].itertuples(index=False):
        parts = []
        for what in ("households", "persons"):
            staged = getattr(row, f"{what}_staged")
            counted = getattr(row, f"{what}_counted")
            held = getattr(row, f"{what}_held")
            gap = staged - counted - held
            if gap:
                how = f"{gap} counted nowhere" if gap > 0 else f"{-gap} counted twice"
                parts.append(
                    f"{what}: {staged} staged != {counted} counted in hamlets + {held} held ({how})"
                )
        lines.append(f"commune {row.commune_code}: " + "; ".join(parts))
    return lines


def held_by_place(
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    held_households: pd.DataFrame,
    held_persons: pd.Series,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held households and person records per hamlet and per commune (counts only), for
    the marts: what the published figures do not yet include.

    ``held_persons`` are held person records per household ID. A household of an unknown
    hamlet counts in its commune (found by its point) but in no hamlet.
    """
    _, commune_of = household_communes(households, hamlets, held_households)
    hamlet_of = smallest_per_household(households["household_id"], households["hamlet_code"])
    ids = pd.Series(held_persons.index, dtype="string")
    persons = pd.DataFrame(
        {
            "hamlet_code": ids.map(hamlet_of).to_numpy(),
            "commune_code": ids.map(commune_of).to_numpy(),
            "n": held_persons.to_numpy(dtype="int64"),
        }
    )
    out = []
    for place in ("hamlet_code", "commune_code"):
        frame = pd.DataFrame(
            {
                "held_households": held_households[place].astype("string").value_counts(),
                "held_persons": persons.groupby(place)["n"].sum(),
            }
        )
        out.append(frame.fillna(0).astype("int64").rename_axis(place).reset_index())
    return out[0], out[1]


def persons_per_household(
    warehouse: Warehouse, table: str, con: Session | None = None
) -> pd.Series:
    """Person records of ``table`` per household ID (null IDs under a null key), read
    through ``con`` when given."""
    rows, params = warehouse.rows_filter(table)
    sql = f"SELECT household_id, count(*) AS n FROM {table} WHERE {rows} GROUP BY household_id"
    counts = warehouse.query(sql, params) if con is None else con.query_df(sql, params)
    return pd.Series(
        counts["n"].to_numpy(dtype="int64"), index=counts["household_id"].astype("string")
    )


def reconcile_warehouse(warehouse: Warehouse) -> pd.DataFrame:
    """:func:`count_reconciliation_by_commune` on a (province's) warehouse tables, read
    in one session (each DuckDB session loads the spatial extension again)."""
    with warehouse.connect() as con:
        return count_reconciliation_by_commune(
            warehouse.read_table(
                "staging.households",
                con=con,
                columns=["record_id", "household_id", "hamlet_code"],
            ),
            warehouse.read_table(
                "staging.hamlets", con=con, columns=["hamlet_code", "commune_code"]
            ),
            warehouse.read_table("quality.households_quarantined", con=con),
            persons_per_household(warehouse, "staging.persons", con),
            persons_per_household(warehouse, "quality.persons_quarantined", con),
            warehouse.read_table(
                "planning.hamlet_compliance",
                con=con,
                columns=["commune_code", "households", "population"],
            ),
        )

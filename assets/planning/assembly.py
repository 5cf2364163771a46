"""The engine's results as frames: option names, the result type, and the rows of
planning.merger_assignments, planning.merger_units and planning.merger_option_summary.

Every plan (the optimised options, the minimal option, a planner's hand-edited
assignment) reaches the frames through ``Solved`` (each hamlet's unit and how sure the
solver is), so a unit's households, standard, compliance and reason, and a commune's
summary, are computed one way whatever made the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.planning.compliance import AWAITING, BELOW_STANDARD, EXEMPT, format_count
from assets.planning.constraints import LOCKED_VI
from assets.planning.explain import Explainer, Member, UnitFacts, noncompliance_reason
from assets.planning.option_kinds import MINIMAL, OPTIONS
from assets.planning.rules import RulesProfile
from assets.planning.solve import FEASIBLE, HEURISTIC, OPTIMAL, Solved
from expectations.schemas import TABLES
from geodata.compactness import unit_compactness

NOT_MANDATORY_VI = "dưới tiêu chuẩn nhưng không dưới ngưỡng bắt buộc: không bắt buộc sắp xếp"
MANUAL_BELOW_VI = "phương án điều chỉnh để đơn vị dưới tiêu chuẩn dù cụm liền kề có thể đạt"

# The contracts describe both tables once; the engine's frames follow them.
UNIT_COLUMNS = TABLES["planning.merger_units"].columns
SUMMARY_COLUMNS = TABLES["planning.merger_option_summary"].columns


@dataclass(frozen=True)
class PlanResult:
    """All options' plans.

    - ``assignments``: planning.merger_assignments, options stacked (minimal, compliant,
      consolidated), then commune and hamlet code; ``unit_id`` is the code of the unit's
      largest hamlet, so it is unique within an option;
    - ``units``: one row per option and unit (``UNIT_COLUMNS``): members, households
      against the strictest member standard, target, compliance with its reason in
      Vietnamese, Polsby–Popper (NaN without ``measures``);
    - ``summary``: one row per option and commune (``SUMMARY_COLUMNS``).
      ``optimality_status`` is "optimal" (the unit count is proven optimal),
      "feasible (gap N)" (the exact phase ran out of budget; up to N more units may
      exist) or "heuristic" (not searched exactly, and always for the rule-based minimal
      option); ``units_upper_bound`` is the proven bound (empty for minimal). The
      seconds columns are wall time and vary between runs; everything else is
      deterministic.
    """

    assignments: pd.DataFrame
    units: pd.DataFrame
    summary: pd.DataFrame
    # planning.constraint_problems: communes whose planners' constraints cannot all hold
    # (they are left as they are, each hamlet told why).
    constraint_problems: pd.DataFrame = field(default_factory=lambda: _no_problems())


def _no_problems() -> pd.DataFrame:
    contract = TABLES["planning.constraint_problems"]
    return contract.enforce(pd.DataFrame(columns=list(contract.columns)))


def empty_result() -> PlanResult:
    """The result for no hamlets: every frame with its columns and no rows."""
    contract = TABLES["planning.merger_assignments"]
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in contract.columns})
    return PlanResult(
        assignments=contract.enforce(empty),
        units=pd.DataFrame({c: pd.Series(dtype=object) for c in UNIT_COLUMNS}),
        summary=pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS}),
    )


def solved_from_assignment(nodes: pd.DataFrame, frame: pd.DataFrame, seconds: float) -> Solved:
    """A plan given as rows (hamlet_code, unit_id: the minimal option's, or a planner's
    assignment) as solver facts, not searched; its seconds are shared out by hamlets."""
    position = pd.Series(np.arange(len(nodes)), index=nodes["code"])
    unit = np.empty(len(nodes), dtype=np.int64)
    unit[position[frame["hamlet_code"].astype(str)].to_numpy()] = position[
        frame["unit_id"].astype(str)
    ].to_numpy()
    share = nodes.groupby("commune").size() / max(len(nodes), 1) * seconds
    n = len(nodes)
    return Solved(
        unit=unit,
        target=nodes["standard"].to_numpy(),
        aim=nodes["standard"].to_numpy(),
        fallback=np.zeros(n, dtype=bool),
        cluster_status=np.full(n, HEURISTIC, dtype=object),
        cluster_units=np.zeros(n, dtype=np.int64),
        cluster_bound=np.zeros(n, dtype=np.int64),
        commune_seconds=share,
        commune_exact_seconds=share * 0.0,
    )


def unit_members(nodes: pd.DataFrame, solved: Solved) -> pd.DataFrame:
    """One row per hamlet with its unit (code) and unit-level aggregates."""
    df = nodes[["code", "commune", "kind", "households", "standard", "status", "exemption"]].copy()
    df["unit"] = nodes["code"].to_numpy()[solved.unit]
    df["target"] = solved.target
    grouped = df.groupby("unit")
    df["unit_households"] = grouped["households"].transform("sum")
    df["unit_size"] = grouped["code"].transform("size")
    df["unit_standard"] = grouped["standard"].transform("max")
    df["unit_target"] = grouped["target"].transform("max")
    single_exempt = df["unit_size"].eq(1) & df["status"].eq(EXEMPT)
    df["compliant"] = single_exempt | (df["unit_households"] >= df["unit_standard"])
    return df


def _internal_lengths(edges: pd.DataFrame, unit: np.ndarray) -> pd.Series:
    """Boundary shared inside each unit (metres), by the unit's first member."""
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    inside = unit[a] == unit[b]
    return pd.Series(edges["shared_m"].to_numpy()[inside]).groupby(unit[a][inside]).sum()


def assignment_rows(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    option: str,
    solved: Solved,
    explainer: Explainer,
    rules: RulesProfile,
) -> pd.DataFrame:
    """planning.merger_assignments rows for an optimised option, with explanations."""
    df = unit_members(nodes, solved)
    internal = _internal_lengths(edges, solved.unit).to_dict()
    col = {c: nodes[c].to_numpy() for c in nodes.columns}
    unit_col = {c: df[c].to_numpy() for c in ("unit_households", "unit_standard", "unit_target")}
    compliant = df["compliant"].to_numpy()
    unit = solved.unit
    order = np.lexsort((col["code"], -col["households"], unit))
    starts = np.flatnonzero(np.r_[True, unit[order][1:] != unit[order][:-1]])
    ends = np.r_[starts[1:], len(order)]
    text = np.empty(len(nodes), dtype=object)
    for s, e in zip(starts, ends, strict=True):
        members = order[s:e]
        lead = int(members[0])
        facts = UnitFacts(
            option=option,
            kind=str(col["kind"][lead]),
            members=tuple(
                Member(
                    code=str(col["code"][v]),
                    households=int(col["households"][v]),
                    standard=int(col["standard"][v]),
                    floor=int(col["floor"][v]),
                    status=str(col["status"][v]),
                    exemption=None if pd.isna(col["exemption"][v]) else str(col["exemption"][v]),
                )
                for v in members
            ),
            households=int(unit_col["unit_households"][lead]),
            standard=int(unit_col["unit_standard"][lead]),
            target=int(unit_col["unit_target"][lead]),
            aim=int(solved.aim[members].max()),
            is_compliant=bool(compliant[lead]),
            internal_m=float(internal.get(int(unit[lead]), 0.0)),
            reason=None
            if compliant[lead]
            else _reason(col, int(unit_col["unit_standard"][lead]), lead),
            cluster_hamlets=int(col["cluster_hamlets"][lead]),
            cluster_units=int(solved.cluster_units[lead]),
            cluster_households=int(col["cluster_households"][lead]),
            cluster_status=str(solved.cluster_status[lead]),
            cluster_bound=int(solved.cluster_bound[lead]),
            fallback=bool(solved.fallback[lead]),
        )
        text[members] = explainer.explain(facts)
    return pd.DataFrame(
        {
            "option_name": option,
            "commune_code": col["commune"],
            "hamlet_code": col["code"],
            "unit_id": df["unit"].to_numpy(),
            "is_merged": df["unit_size"].to_numpy() > 1,
            "explanation": text,
            "rules_profile": rules.name,
        }
    )


def _reason(col: Mapping[str, np.ndarray], standard: int, v: int) -> str:
    """Why hamlet ``v``'s unit (of the given standard) cannot comply."""
    if "locked" in col and col["locked"][v]:
        return LOCKED_VI
    return noncompliance_reason(
        kind=str(col["kind"][v]),
        standard=standard,
        cluster_hamlets=int(col["cluster_hamlets"][v]),
        cluster_households=int(col["cluster_households"][v]),
        kind_hamlets_in_commune=int(col["kind_hamlets"][v]),
        has_neighbour=bool(col["has_neighbour"][v]),
        other_kinds=str(col["other_kinds"][v]),
    )


def unit_rows(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    assignments: pd.DataFrame,
    solved: Mapping[str, Solved],
    measures: pd.DataFrame | None,
    adjacency: pd.DataFrame,
    rules: RulesProfile,
) -> pd.DataFrame:
    """One row per option and unit."""
    frames = []
    col = {c: nodes[c].to_numpy() for c in nodes.columns}
    for option, result in solved.items():
        df = unit_members(nodes, result)
        lead = df.sort_values(["unit", "households", "code"], ascending=[True, False, True])
        members = lead.groupby("unit", sort=True)["code"].agg(",".join)
        first = df[df["code"] == df["unit"]].set_index("unit").sort_index()
        reasons = compliance_reasons(first, rules)
        position = pd.Series(np.arange(len(nodes)), index=nodes["code"])
        for unit_code in first.index[~first["compliant"].to_numpy()]:
            at = int(position[unit_code])
            if "locked" in col and col["locked"][at]:
                why = LOCKED_VI
            elif (
                option == MINIMAL
                and first.at[unit_code, "unit_size"] == 1
                and first.at[unit_code, "status"] == BELOW_STANDARD
            ):
                why = NOT_MANDATORY_VI
            else:
                standard = int(first.at[unit_code, "unit_standard"])
                why = _reason(col, standard, at)
                reachable = col["cluster_hamlets"][at] > 1 and (
                    col["cluster_households"][at] >= standard
                )
                if option not in OPTIONS and reachable:
                    why = MANUAL_BELOW_VI
            reasons[unit_code] = f"{reasons[unit_code]}: {why}"
        frames.append(
            pd.DataFrame(
                {
                    "option_name": option,
                    "commune_code": first["commune"].to_numpy(),
                    "unit_id": first.index.to_numpy(),
                    "hamlet_kind": first["kind"].to_numpy(),
                    "member_count": first["unit_size"].to_numpy(),
                    "member_hamlet_codes": members.reindex(first.index).to_numpy(),
                    "households": first["unit_households"].to_numpy(),
                    "standard_households": first["unit_standard"].to_numpy(),
                    "target_households": first["unit_target"].to_numpy(),
                    "is_compliant": first["compliant"].to_numpy(),
                    "compliance_reason": reasons.to_numpy(),
                }
            )
        )
    units = pd.concat(frames, ignore_index=True)
    units["polsby_popper"] = np.nan
    if measures is not None:
        members = assignments[["option_name", "unit_id", "hamlet_code"]]
        pp = unit_compactness(
            members, measures[["hamlet_code", "area_m2", "perimeter_m"]], adjacency
        )
        units = units.drop(columns="polsby_popper").merge(
            pp[["option_name", "unit_id", "polsby_popper"]],
            on=["option_name", "unit_id"],
            how="left",
        )
    units["rules_profile"] = rules.name
    rank = units["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    units = units.assign(_rank=rank).sort_values(["_rank", "commune_code", "unit_id"])
    return units.drop(columns="_rank").reset_index(drop=True)[list(UNIT_COLUMNS)]


def compliance_reasons(first: pd.DataFrame, rules: RulesProfile) -> pd.Series:
    """Each unit's households against its standard, as a short Vietnamese sentence."""
    households = format_count(first["unit_households"])
    standard = format_count(first["unit_standard"])
    meets = first["unit_households"] >= first["unit_standard"]
    text = households + np.where(meets, " hộ ≥ tiêu chuẩn ", " hộ < tiêu chuẩn ") + standard + " hộ"
    alone = first["unit_size"].eq(1)
    exempt = alone & first["status"].eq(EXEMPT)
    awaiting = alone & first["status"].eq(AWAITING)
    label = first["exemption"].map(lambda k: rules.exemption_categories.get(k, k))
    special = "Diện đặc thù (" + label.astype(str) + "): " + text + " của diện này"
    waiting = "Diện đặc thù (" + label.astype(str) + "): " + text + ", chờ hướng dẫn của tỉnh"
    return text.where(~exempt, special).where(~awaiting, waiting).astype(object)


def with_strict_reading(
    summary: pd.DataFrame,
    nodes: pd.DataFrame,
    strict_nodes: pd.DataFrame,
    strict: Mapping[str, Solved],
) -> pd.DataFrame:
    """Add the awaiting hamlets per commune and, per option, the units (and those still
    below) when they are judged as ordinary; equal to the plan's own when there are none."""
    awaiting = (nodes["status"] == AWAITING).groupby(nodes["commune"]).sum()
    out = summary.copy()
    out["awaiting_guidance_hamlets"] = out["commune_code"].map(awaiting).fillna(0).astype("int64")
    out["units_after_without_special_cases"] = out["units_after"]
    out["noncompliant_units_after_without_special_cases"] = out["noncompliant_units_after"]
    for option, result in strict.items():
        members = unit_members(strict_nodes, result)
        per_unit = members.drop_duplicates("unit")
        units = per_unit.groupby("commune").size()
        bad = (~per_unit["compliant"]).groupby(per_unit["commune"]).sum()
        rows = out["option_name"].eq(option)
        communes = out.loc[rows, "commune_code"]
        out.loc[rows, "units_after_without_special_cases"] = communes.map(units).to_numpy()
        out.loc[rows, "noncompliant_units_after_without_special_cases"] = communes.map(
            bad
        ).to_numpy()
    ints = ["units_after_without_special_cases", "noncompliant_units_after_without_special_cases"]
    return out.astype(dict.fromkeys(ints, "int64"))[list(SUMMARY_COLUMNS)]


def summary_rows(
    nodes: pd.DataFrame,
    assignments: pd.DataFrame,
    units: pd.DataFrame,
    solved: Mapping[str, Solved],
    rules: RulesProfile,
) -> pd.DataFrame:
    """One row per option and commune."""
    keys = ["option_name", "commune_code"]
    households = pd.Series(nodes["households"].to_numpy(), index=nodes["code"])
    a = assignments[[*keys, "hamlet_code", "unit_id"]]
    moved = a["hamlet_code"].map(households).where(a["hamlet_code"] != a["unit_id"], 0)
    per = (
        a.assign(moved=moved)
        .groupby(keys, sort=False)
        .agg(hamlets=("hamlet_code", "size"), households_moved=("moved", "sum"))
    )
    u = units.assign(bad=~units["is_compliant"])
    per_units = u.groupby(keys, sort=False).agg(
        units_after=("unit_id", "size"),
        noncompliant_units_after=("bad", "sum"),
        mean_polsby_popper=("polsby_popper", "mean"),
    )
    bad = u[u["bad"]]
    reasons = (
        (bad["unit_id"] + ": " + bad["compliance_reason"].fillna(""))
        .groupby([bad["option_name"], bad["commune_code"]], sort=False)
        .agg("; ".join)
        .rename("noncompliant_reasons")
    )
    df = per.join(per_units).join(reasons).reset_index()
    df["units_before"] = df["hamlets"]
    df["compliant_units_after"] = df["units_after"] - df["noncompliant_units_after"]
    facts = []
    for option, result in solved.items():
        f = pd.DataFrame(
            {
                "option_name": option,
                "commune_code": nodes["commune"].to_numpy(),
                "cluster": nodes["cluster"].to_numpy(),
                "heuristic": result.cluster_status == HEURISTIC,
                "feasible": result.cluster_status == FEASIBLE,
                "units": result.cluster_units,
                "bound": result.cluster_bound,
            }
        ).drop_duplicates("cluster")
        g = f.groupby(keys, sort=False).agg(
            heuristic=("heuristic", "any"),
            feasible=("feasible", "any"),
            units=("units", "sum"),
            bound=("bound", "sum"),
        )
        g["solve_seconds"] = result.commune_seconds.reindex(g.index.get_level_values(1)).to_numpy()
        g["exact_seconds"] = result.commune_exact_seconds.reindex(
            g.index.get_level_values(1)
        ).to_numpy()
        g["minimal"] = option == MINIMAL
        facts.append(g)
    f = pd.concat(facts).reset_index()
    gap = (f["bound"] - f["units"]).astype("int64").astype(str)
    f["optimality_status"] = np.select(
        [f["minimal"] | f["heuristic"], f["feasible"]],
        [HEURISTIC, FEASIBLE + " (gap " + gap + ")"],
        OPTIMAL,
    )
    f["units_upper_bound"] = f["bound"].astype("Int64").where(~f["minimal"], pd.NA)
    df = df.merge(
        f[[*keys, "optimality_status", "units_upper_bound", "solve_seconds", "exact_seconds"]],
        on=keys,
        how="left",
        validate="one_to_one",
    )
    df["solve_seconds"] = df["solve_seconds"].astype(float).round(4)
    df["exact_seconds"] = df["exact_seconds"].astype(float).round(4)
    df["rules_profile"] = rules.name
    rank = df["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    df = df.assign(_rank=rank).sort_values(["_rank", "commune_code"]).drop(columns="_rank")
    df = df.reset_index(drop=True)[[c for c in SUMMARY_COLUMNS if c in df]]
    ints = ["hamlets", "units_before", "units_after", "compliant_units_after"]
    types = {c: "int64" for c in [*ints, "noncompliant_units_after", "households_moved"]}
    return df.astype(types | {"noncompliant_reasons": "string", "optimality_status": "string"})

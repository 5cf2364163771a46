"""The "minimal" merger option: partitions of each commune's hamlets, with reasons.

DESIGN.md, "The merger problem": merge only what the rules make mandatory, each group
into its best neighbour, for the least disruption. It is rule-based, not optimised; the
optimised options (compliant, consolidated) are solved in ``solve``, and the entry point
that runs all three is ``options.plan_options``. Communes are independent and small (at
most a few hundred hamlets), so each is solved with plain dictionaries; nothing here
touches persons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.planning.compliance import (
    AWAITING,
    BELOW_FLOOR,
    BELOW_STANDARD,
    COMPLIANCE_INPUT_COLUMNS,
    EXEMPT,
    check_compliance_input,
)
from assets.planning.constraints import APART_VI, LOCKED_VI, PlannerConstraints
from assets.planning.graph import component_totals, components
from assets.planning.option_kinds import MINIMAL
from assets.planning.rules import HAMLET_KIND_LABELS_VI, RulesProfile
from assets.planning.wording import awaiting_vi, name_lookup
from assets.planning.wording import count_vi as _count
from assets.planning.wording import distance_vi as _distance
from assets.planning.wording import upper_first as _upper_first
from expectations.schemas import TABLES


@dataclass(frozen=True)
class _Hamlet:
    code: str
    kind: str
    households: int
    standard: int
    floor: int
    status: str
    exemption: str | None


@dataclass
class _Group:
    """A unit being formed: its members, size, target and contiguity to other groups."""

    key: str  # lowest member code: stable identity and last tie-breaker
    members: list[str]
    kind: str
    households: int
    target: int  # the strictest standard among its members
    has_below_floor: bool
    neighbours: dict[str, float] = field(default_factory=dict)  # group key -> shared m
    # (order, sentence, hamlets of the two groups it joined): each hamlet is told only
    # the merges its own group took part in.
    steps: list[tuple[int, str, frozenset[str]]] = field(default_factory=list)
    stuck: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.has_below_floor and self.households < self.target


def minimal_option(
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    rules: RulesProfile,
    *,
    names: pd.Series | None = None,
    constraints: PlannerConstraints | None = None,
    ethnicity: pd.Series | None = None,
    frozen_communes: Iterable[str] = (),
) -> pd.DataFrame:
    """The "minimal" plan: merge only what must merge, each into its best neighbour.

    Per commune, groups start as single hamlets. A group is mandatory while it holds a
    hamlet below the mandatory floor and its households are under its standard (the
    floor forces the merge; the merged unit must then reach the standard). The smallest
    mandatory group (ties: lowest code) merges with an adjacent group of the same kind:
    the one reaching the standard with the fewest households, then the longest shared
    boundary, then the lowest code; if none reaches it, the longest shared boundary, and
    the group goes round again. A group that cannot reach the standard (no neighbour of
    its kind, or its whole contiguous same-kind cluster is too small) is left as it is,
    with the reason, never forced. Each pass merges two groups or retires one, so the
    loop ends. A merged group's standard is the strictest of its members' (it matters
    only where an exemption category carries its own lower standard, as under tt04);
    exempt hamlets are never forced but may take in a neighbour that must merge.

    ``names`` maps hamlet_code to a display name (with prefix) for the explanations;
    codes are used where it is missing. Planners' ``constraints``: must-merge pairs start
    as one group, a group never takes in a neighbour holding a must-not-merge partner of
    one of its members (locked hamlets, and every hamlet of ``frozen_communes``, whose
    constraints cannot all hold, come without edges from ``plan_options``); in a
    commune preferring one ethnicity, a neighbour of the same majority ethnicity
    (``ethnicity``: hamlet_code -> ethnicity) is chosen first among equals.
    """
    check_compliance_input(compliance, rules, COMPLIANCE_INPUT_COLUMNS, "minimal_option")
    planner = constraints if constraints is not None else PlannerConstraints()
    label = _Labeller(names, rules)
    edges = _edges_by_commune(adjacency)
    apart = {frozenset(p) for p in planner.apart}
    together = planner.together
    preferring = planner.same_ethnicity_communes
    frozen = set(frozen_communes)
    majority = {} if ethnicity is None else {str(k): str(v) for k, v in ethnicity.dropna().items()}
    rows: list[dict[str, object]] = []
    ordered = compliance.sort_values(["commune_code", "hamlet_code"], kind="stable")
    for commune, part in ordered.groupby("commune_code", sort=True):
        hamlets = {
            str(r.hamlet_code): _Hamlet(
                code=str(r.hamlet_code),
                kind=str(r.hamlet_kind),
                households=int(r.households),
                standard=int(r.standard_households),
                floor=int(r.mandatory_floor_households),
                status=str(r.compliance_status),
                exemption=None if pd.isna(r.exemption_category) else str(r.exemption_category),
            )
            for r in part.itertuples(index=False)
        }
        rules_here = _Pairs(
            apart={p for p in apart if p <= hamlets.keys()},
            locked=frozenset(hamlets) if str(commune) in frozen else planner.locked,
            together=[p for p in together if set(p) <= hamlets.keys()],
            ethnicity=majority if str(commune) in preferring else {},
        )
        groups = _solve_commune(hamlets, edges.get(str(commune), []), label, rules_here)
        for group in groups:
            unit_id = min(group.members, key=lambda c: (-hamlets[c].households, c))
            is_merged = len(group.members) > 1
            for code in group.members:
                rows.append(
                    {
                        "option_name": MINIMAL,
                        "commune_code": str(commune),
                        "hamlet_code": code,
                        "unit_id": unit_id,
                        "is_merged": is_merged,
                        "explanation": label.explain(group, hamlets[code], hamlets),
                        "rules_profile": rules.name,
                    }
                )
    out = pd.DataFrame(rows, columns=list(TABLES["planning.merger_assignments"].columns))
    out = out.sort_values(["commune_code", "hamlet_code"], kind="stable").reset_index(drop=True)
    return TABLES["planning.merger_assignments"].enforce(out)


def _edges_by_commune(adjacency: pd.DataFrame) -> dict[str, list[tuple[str, str, float]]]:
    """Adjacency rows grouped per commune (plain tuples: the solver loops over them)."""
    needed = ["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
    missing = [c for c in needed if c not in adjacency.columns]
    if missing:
        raise ValueError(f"minimal_option: adjacency lacks columns {missing}")
    out: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for commune, a, b, length in adjacency[needed].itertuples(index=False):
        out[str(commune)].append((str(a), str(b), float(length)))
    return out


@dataclass(frozen=True)
class _Pairs:
    """A commune's planner constraints as the greedy needs them."""

    apart: set[frozenset[str]] = field(default_factory=set)
    locked: frozenset[str] = frozenset()
    together: list[tuple[str, str]] = field(default_factory=list)
    ethnicity: Mapping[str, str] = field(default_factory=dict)  # when preferred

    def clash(self, a: _Group, b: _Group) -> bool:
        return any(frozenset((x, y)) in self.apart for x in a.members for y in b.members)

    def mixed(self, a: _Group, b: _Group) -> bool:
        """Whether the two groups' members differ in majority ethnicity (when preferred)."""
        found = {self.ethnicity[c] for c in a.members + b.members if c in self.ethnicity}
        return len(found) > 1


def _solve_commune(
    hamlets: Mapping[str, _Hamlet],
    edges: Iterable[tuple[str, str, float]],
    label: _Labeller,
    pairs: _Pairs | None = None,
) -> list[_Group]:
    """Greedy minimal merging inside one commune; returns the final groups."""
    pairs = pairs or _Pairs()
    groups: dict[str, _Group] = {
        code: _Group(
            key=code,
            members=[code],
            kind=h.kind,
            households=h.households,
            target=h.standard,
            has_below_floor=h.status == BELOW_FLOOR,
        )
        for code, h in hamlets.items()
    }
    same_kind: dict[str, set[str]] = defaultdict(set)
    for a, b, length in edges:
        if a == b or a not in hamlets or b not in hamlets:
            continue  # a hamlet outside this commune's compliance rows cannot join
        # max(): robust to a one-directional or slightly asymmetric adjacency table.
        length = max(length, groups[a].neighbours.get(b, 0.0))
        groups[a].neighbours[b] = length
        groups[b].neighbours[a] = length
        if hamlets[a].kind == hamlets[b].kind:
            same_kind[a].add(b)
            same_kind[b].add(a)
    cluster_total = _cluster_totals(hamlets, same_kind)
    kind_count: dict[str, int] = defaultdict(int)
    for h in hamlets.values():
        kind_count[h.kind] += 1

    step = 0
    for a, b in pairs.together:
        first, second = groups[_group_key(groups, a)], groups[_group_key(groups, b)]
        if first is not second:
            step += 1
            text = label.required(first, second)
            _merge(groups, first, second, (step, text, frozenset(first.members + second.members)))
    while True:
        open_groups = [g for g in groups.values() if g.mandatory and g.stuck is None]
        if not open_groups:
            break
        group = min(open_groups, key=lambda g: (g.households, g.key))
        options = [
            (groups[k], length)
            for k, length in group.neighbours.items()
            if groups[k].kind == group.kind
        ]
        if not options:
            locked = set(group.members) & pairs.locked
            stuck = LOCKED_VI if locked else None
            group.stuck = stuck or label.no_neighbour(group, hamlets, kind_count[group.kind])
            continue
        options = [o for o in options if not pairs.clash(group, o[0])]
        if not options:
            group.stuck = APART_VI
            continue
        # Only neighbours whose standard the whole cluster can still reach: merging with a
        # stricter one (a category floor next to an ordinary hamlet) would strand both.
        total = cluster_total[group.members[0]]
        feasible = [o for o in options if total >= max(group.target, o[0].target)]
        if not feasible:
            needed = min(max(group.target, n.target) for n, _ in options)
            group.stuck = label.cluster_too_small(total, needed)
            continue
        options = feasible
        reaching = [
            (n, length)
            for n, length in options
            if group.households + n.households >= max(group.target, n.target)
        ]
        if reaching:
            chosen, length = min(
                reaching,
                key=lambda o: (
                    pairs.mixed(group, o[0]),
                    group.households + o[0].households,
                    -o[1],
                    o[0].key,
                ),
            )
        else:
            chosen, length = min(options, key=lambda o: (pairs.mixed(group, o[0]), -o[1], o[0].key))
        step += 1
        text = label.step(group, chosen, length, hamlets, reaches=bool(reaching), choices=reaching)
        involved = frozenset(group.members) | frozenset(chosen.members)
        _merge(groups, group, chosen, (step, text, involved))
    return sorted(groups.values(), key=lambda g: g.key)


def _group_key(groups: Mapping[str, _Group], code: str) -> str:
    return next(k for k, g in groups.items() if code in g.members)


def _cluster_totals(
    hamlets: Mapping[str, _Hamlet], same_kind: Mapping[str, set[str]]
) -> dict[str, int]:
    """Households of each hamlet's contiguous same-kind cluster: the most it can reach."""
    codes = sorted(hamlets)
    index = {c: k for k, c in enumerate(codes)}
    pairs = [(index[a], index[b]) for a, near in same_kind.items() for b in near]
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    households = np.array([hamlets[c].households for c in codes], dtype=np.int64)
    totals = component_totals(components(len(codes), a, b), households)
    return {c: int(t) for c, t in zip(codes, totals, strict=True)}


def _merge(
    groups: dict[str, _Group], a: _Group, b: _Group, step: tuple[int, str, frozenset[str]]
) -> None:
    """Fold b into a (under the lower key); neighbour lengths add up."""
    keep, drop = (a, b) if a.key < b.key else (b, a)
    keep.members = sorted(keep.members + drop.members)
    keep.households += drop.households
    keep.target = max(keep.target, drop.target)
    keep.has_below_floor = keep.has_below_floor or drop.has_below_floor
    keep.steps = sorted([*keep.steps, *drop.steps, step])
    keep.stuck = None
    del groups[drop.key]
    for other_key, length in drop.neighbours.items():
        if other_key == keep.key:
            continue
        keep.neighbours[other_key] = keep.neighbours.get(other_key, 0.0) + length
        other = groups[other_key].neighbours
        other[keep.key] = other.get(keep.key, 0.0) + other.pop(drop.key)
    keep.neighbours.pop(drop.key, None)


# --- explanations ----------------------------------------------------------------------


class _Labeller:
    """Vietnamese sentences for the minimal option, with names where known."""

    def __init__(self, names: pd.Series | None, rules: RulesProfile) -> None:
        self.names = name_lookup(names)
        self.rules = rules

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def group_name(self, group: _Group) -> str:
        if len(group.members) == 1:
            return self.name(group.members[0])
        return "nhóm " + ", ".join(self.name(c) for c in group.members)

    def trigger(self, group: _Group, hamlets: Mapping[str, _Hamlet]) -> str:
        """Why the group must merge: its hamlet below the floor, or its unmet target."""
        if len(group.members) == 1:
            h = hamlets[group.members[0]]
            return (
                f"{self.name(h.code)} ({_count(h.households)} hộ) dưới ngưỡng bắt buộc "
                f"{_count(h.floor)} hộ ({self.rules.citations['mandatory']})"
            )
        return (
            f"{_upper_first(self.group_name(group))} ({_count(group.households)} hộ) "
            f"chưa đạt chuẩn {_count(group.target)} hộ"
        )

    def step(
        self,
        group: _Group,
        chosen: _Group,
        length: float,
        hamlets: Mapping[str, _Hamlet],
        *,
        reaches: bool,
        choices: list[tuple[_Group, float]],
    ) -> str:
        total = group.households + chosen.households
        target = max(group.target, chosen.target)
        head = (
            f"{self.trigger(group, hamlets)}: sáp nhập với {self.group_name(chosen)} "
            f"({_count(chosen.households)} hộ)"
        )
        if reaches:
            why = f" vì liền kề (ranh giới chung {_distance(length)}) và tổng {_count(total)} hộ"
            why += f" đạt chuẩn {_count(target)} hộ"
            return head + why + (" với ít hộ nhất" if len(choices) > 1 else "")
        return (
            f"{head} vì có ranh giới chung dài nhất ({_distance(length)}); chưa đơn vị "
            f"liền kề nào đủ để đạt chuẩn {_count(target)} hộ (mới {_count(total)} hộ), "
            "tiếp tục ghép"
        )

    def no_neighbour(self, group: _Group, hamlets: Mapping[str, _Hamlet], kind_count: int) -> str:
        kind = HAMLET_KIND_LABELS_VI[group.kind]
        if kind_count == len(group.members):
            if len(group.members) == 1:
                return f"là {kind} duy nhất của xã"
            return (
                f"toàn bộ {kind} của xã chỉ có {_count(group.households)} hộ "
                f"< {_count(group.target)}"
            )
        if not group.neighbours:
            return "không có thôn/tổ dân phố nào liền kề (tách biệt)"
        others = sorted({HAMLET_KIND_LABELS_VI[hamlets[k].kind] for k in group.neighbours})
        return f"không có {kind} liền kề cùng loại (chỉ giáp {', '.join(others)})"

    def required(self, a: _Group, b: _Group) -> str:
        return (
            f"{_upper_first(self.group_name(a))} ({_count(a.households)} hộ) sáp nhập với "
            f"{self.group_name(b)} ({_count(b.households)} hộ) theo ràng buộc của người lập "
            "kế hoạch"
        )

    def cluster_too_small(self, total: int, needed: int) -> str:
        return f"cả cụm liền kề chỉ có {_count(total)} hộ < {_count(needed)}"

    def explain(self, group: _Group, hamlet: _Hamlet, hamlets: Mapping[str, _Hamlet]) -> str:
        parts = [text for _, text, involved in group.steps if hamlet.code in involved]
        if len(group.members) > 2 and group.stuck is None:
            parts.append(
                f"Đơn vị sau sắp xếp gồm {len(group.members)} "
                f"{HAMLET_KIND_LABELS_VI[group.kind]}, {_count(group.households)} hộ"
            )
        if group.stuck is not None:
            if parts:
                parts.append(
                    f"{_upper_first(self.group_name(group))} ({_count(group.households)} hộ) "
                    f"vẫn không thể đạt chuẩn {_count(group.target)} hộ: {group.stuck}; "
                    "cần xem xét riêng"
                )
            else:
                parts.append(
                    f"{self.trigger(group, hamlets)} nhưng không thể đạt chuẩn: {group.stuck}; "
                    "giữ nguyên, cần xem xét riêng"
                )
        if parts:
            return ". ".join(parts) + "."
        return self.unchanged(hamlet)

    def unchanged(self, h: _Hamlet) -> str:
        if h.status == EXEMPT:
            label = self.rules.exemption_categories.get(h.exemption or "", h.exemption or "")
            return f"Diện đặc thù ({label}): giữ nguyên."
        if h.status == AWAITING:
            label = self.rules.exemption_categories.get(h.exemption or "", h.exemption or "")
            return awaiting_vi(label, h.households, h.standard)
        if h.status == BELOW_STANDARD:
            return (
                f"{_count(h.households)} hộ < tiêu chuẩn {_count(h.standard)} nhưng không dưới "
                f"ngưỡng bắt buộc {_count(h.floor)} hộ: không bắt buộc sáp nhập, giữ nguyên."
            )
        # meets_standard (a hamlet below the floor is always merged or reported stuck).
        return f"Đạt chuẩn {_count(h.households)} hộ ≥ {_count(h.standard)}: giữ nguyên."

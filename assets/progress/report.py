"""The weekly progress report: an Excel workbook (Vietnamese headers) and a PNG chart of
communes by status week by week, with the deadlines and the late communes.

The directives ask provinces to report progress weekly against fixed deadlines; the
files go to ``<exports>/<province>/tien_do/``, dated, so earlier weeks' reports stay.
Communes and planners' records only: no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from assets.exports.files import with_vietnamese_headers
from assets.exports.safe import atomic_write, write_sheet
from assets.progress.deadlines import STATUS_LABELS_VI, STATUSES, ProvinceDeadlines
from assets.progress.status import status_counts

STATUS_COLOURS = {
    "no_plan": "#d9d9d9",
    "plan_drafted": "#fdd49e",
    "consulted": "#9ecae1",
    "approved": "#41ab5d",
}
LATE_LISTED_ON_CHART = 25  # the workbook lists them all


@dataclass(frozen=True)
class ProgressReport:
    """One province's progress on a day (``progress``: ``status.PROGRESS_COLUMNS``)."""

    province_code: str
    province_name: str
    as_of: date
    deadlines: ProvinceDeadlines
    progress: pd.DataFrame
    timeline: pd.DataFrame  # week_date, progress_status, communes

    @property
    def late(self) -> pd.DataFrame:
        return self.progress[self.progress["late_milestones"].fillna("").ne("")]

    @property
    def stem(self) -> str:
        return f"tien_do_tinh_{self.province_code}_{self.as_of:%Y%m%d}"


def milestone_table(report: ProgressReport) -> pd.DataFrame:
    """Each deadline: whose it is (province or every commune), the directive's date and
    the last day, days left to the last day, communes that reached its status and not."""
    rank = report.progress["progress_status"].map({s: k for k, s in enumerate(STATUSES)})
    rows = []
    for m in report.deadlines.milestones:
        reached = int((rank >= STATUSES.index(m.requires)).sum()) if m.requires else None
        rows.append(
            {
                "Mốc": m.label_vi,
                "Cấp": "Tỉnh" if m.is_province_milestone else "Từng xã",
                "Hạn": m.due_vi,
                "Ngày cuối": m.last_day,
                "Còn (ngày)": (m.last_day - report.as_of).days,
                "Yêu cầu": STATUS_LABELS_VI.get(m.requires, "") if m.requires else "",
                "Số xã đạt": reached,
                "Số xã chưa đạt": None if reached is None else len(report.progress) - reached,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Mốc", "Cấp", "Hạn", "Ngày cuối", "Còn (ngày)", "Yêu cầu", "Số xã đạt",
            "Số xã chưa đạt",
        ],
    )  # fmt: skip


def _labelled(progress: pd.DataFrame) -> pd.DataFrame:
    out = progress.assign(
        progress_status=progress["progress_status"].map(STATUS_LABELS_VI),
        has_failed_consultation=progress["has_failed_consultation"].map({True: "Có", False: ""}),
    )
    dates = ("plan_drafted", "advisory_conference", "party_opinion", "consulted", "approved")
    for column in (f"{d}_date" for d in dates):
        out[column] = pd.to_datetime(out[column]).dt.date
    return with_vietnamese_headers(out)


def write_workbook(report: ProgressReport, folder: Path) -> Path:
    """Summary, every commune, the weekly counts and the late communes, one sheet each."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.stem}.xlsx"
    counts = status_counts(report.progress)
    summary = pd.DataFrame(
        {
            "Tiến độ": [STATUS_LABELS_VI[s] for s in counts.index] + ["Tổng"],
            "Số xã": [*counts.tolist(), int(counts.sum())],
        }
    )
    weekly = report.timeline.pivot_table(
        index="week_date", columns="progress_status", values="communes", aggfunc="sum"
    ).reindex(columns=list(STATUSES), fill_value=0)
    weekly.index = pd.to_datetime(weekly.index).date
    weekly = weekly.rename(columns=STATUS_LABELS_VI).rename_axis("Tuần (ngày)").reset_index()
    progress = report.progress.sort_values("commune_code")
    with atomic_write(path) as partial, pd.ExcelWriter(partial, engine="openpyxl") as workbook:
        title = pd.DataFrame(
            {
                "Báo cáo tiến độ sắp xếp thôn, tổ dân phố": [
                    f"Tỉnh: {report.province_name} ({report.province_code})",
                    f"Ngày báo cáo: {report.as_of:%d/%m/%Y}",
                    report.deadlines.directive_vi,
                ]
            }
        )
        write_sheet(workbook, title, "Tổng hợp")
        write_sheet(workbook, summary, "Tổng hợp", startrow=5)
        write_sheet(workbook, milestone_table(report), "Tổng hợp", startrow=8 + len(summary))
        write_sheet(workbook, _labelled(progress), "Tiến độ theo xã")
        write_sheet(workbook, weekly, "Theo tuần")
        write_sheet(workbook, _labelled(report.late.sort_values("commune_code")), "Xã chậm tiến độ")
    return path


def write_chart(report: ProgressReport, folder: Path) -> Path:
    """Stacked communes by status per week, the deadlines as lines, late communes listed.

    A bare Figure (no pyplot), as the commune maps.
    """
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.stem}.png"
    weekly = report.timeline.pivot_table(
        index="week_date", columns="progress_status", values="communes", aggfunc="sum"
    ).reindex(columns=list(STATUSES), fill_value=0)
    days = pd.to_datetime(weekly.index)
    figure = Figure(figsize=(11, 6))
    chart, notes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1.3]})
    chart.stackplot(
        days,
        *[weekly[status].to_numpy() for status in STATUSES],
        labels=[STATUS_LABELS_VI[status] for status in STATUSES],
        colors=[STATUS_COLOURS[status] for status in STATUSES],
        step="post",
    )
    chart.set_ylim(0, max(len(report.progress), 1))
    chart.set_xlim(
        days.min(),
        max([days.max(), *(pd.Timestamp(m.before) for m in report.deadlines.milestones)])
        + pd.Timedelta(days=2),
    )
    for m in report.deadlines.milestones:
        due = pd.Timestamp(m.before)  # the line at the start of the day the work is late
        chart.axvline(due, color="#b2182b", linestyle="--", linewidth=1)
        chart.annotate(f"{m.label_vi}\ntrước {m.before:%d/%m}", (due, chart.get_ylim()[1]),
                       fontsize=7, rotation=90, va="top", ha="right", color="#b2182b")  # fmt: skip
    chart.set_title(f"Tiến độ sắp xếp thôn, TDP – {report.province_name} ({report.as_of:%d/%m/%Y})")
    chart.set_ylabel("Số xã")
    chart.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=4, fontsize=8, frameon=False)
    figure.autofmt_xdate()
    late = report.late.sort_values("commune_code")
    lines = [f"{c} {n}" for c, n in zip(late["commune_code"], late["commune_name"], strict=True)]
    if len(lines) > LATE_LISTED_ON_CHART:
        lines = [*lines[:LATE_LISTED_ON_CHART], f"… và {len(lines) - LATE_LISTED_ON_CHART} xã khác"]
    notes.set_axis_off()
    notes.set_title(f"Xã chậm tiến độ: {len(late)}", fontsize=10, loc="left")
    # Commune names as typed, never read as mathtext ("$…$").
    notes.text(0, 1, "\n".join(lines) or "Không có", va="top", fontsize=8,
               transform=notes.transAxes, parse_math=False)  # fmt: skip
    figure.tight_layout()
    with atomic_write(path) as partial:
        figure.savefig(partial, dpi=110, metadata={"Software": "hamlets", "Title": path.stem})
    return path

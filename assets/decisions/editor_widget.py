"""The map editor's widget: ipyleaflet map + ipywidgets panel over ``PlanEditor``.

Only drawing and wiring live here; every figure and rule is ``PlanEditor``'s. ipyleaflet
draws the commune's 100-200 hamlets as one GeoJSON layer (SVG paths, fast enough at that
size) and needs no tile server: the map has no base layer, so it works on an offline
office machine. Every text shown is escaped (hamlet names come from the data).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import ipyleaflet
import ipywidgets as widgets

from assets.decisions.commune import CommuneMarts, DecisionError
from assets.decisions.editor import NEW_UNIT, EditError, PlanEditor
from assets.exports.dean import write_commune_deans
from assets.exports.notebook_tables import planner_table
from assets.exports.office import vn_number
from assets.planning.manual import AssignmentError
from assets.warehouse import Warehouse, WarehouseError

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
)  # fmt: skip
CSS_CODE = "hamlet-"  # each hamlet's path carries class hamlet-<code> (tests click it)


def unit_colours(editor: PlanEditor) -> dict[str, str]:
    units = sorted(set(editor.assignment.values()))
    return {unit: PALETTE[k % len(PALETTE)] for k, unit in enumerate(units)}


def features(editor: PlanEditor) -> dict:
    """The hamlets as GeoJSON, each styled with its unit's colour."""
    colours = unit_colours(editor)
    hamlets = editor.commune.hamlets.to_crs(4326)
    out = []
    for code, shape, households in zip(
        hamlets["hamlet_code"], hamlets.geometry, hamlets["households"], strict=True
    ):
        unit = editor.assignment[code]
        out.append(
            {
                "type": "Feature",
                "geometry": json.loads(json.dumps(shape.__geo_interface__)),
                "properties": {
                    "hamlet_code": code,
                    "households": int(households),
                    "style": {
                        "fillColor": colours[unit],
                        "color": "#b30000" if unit in editor.locked_units else "#333333",
                        "weight": 3 if unit in editor.locked_units else 1,
                        "fillOpacity": 0.6,
                        "className": f"{CSS_CODE}{code}",
                    },
                },
            }
        )
    return {"type": "FeatureCollection", "features": out}


def label_markers(editor: PlanEditor) -> list[ipyleaflet.Marker]:
    """Name and households at each hamlet's inner point."""
    hamlets = editor.commune.hamlets.to_crs(4326)
    markers = []
    for code, shape, households in zip(
        hamlets["hamlet_code"], hamlets.geometry, hamlets["households"], strict=True
    ):
        point = shape.representative_point()
        text = f"{html.escape(editor.hamlet_name(code))}<br>{vn_number(int(households))} hộ"
        icon = ipyleaflet.DivIcon(
            html=f'<div style="font-size:10px;white-space:nowrap">{text}</div>',
            icon_size=[90, 24],
        )
        markers.append(ipyleaflet.Marker(location=(point.y, point.x), icon=icon, draggable=False))
    return markers


def panel_html(editor: PlanEditor, message: str = "") -> str:
    """The panel: headline totals, conflicts, the refusal if any, units and scores."""
    totals = editor.totals()
    parts = []
    if message:
        parts.append(f'<p class="editor-message" style="color:#b30000">{html.escape(message)}</p>')
    parts.append(
        '<table class="editor-totals">'
        f'<tr><td>Số đơn vị</td><td class="units">{totals["units"]}</td></tr>'
        f'<tr><td>Đơn vị đạt chuẩn</td><td class="compliant">{totals["compliant_units"]}</td></tr>'
        f'<tr><td>Tổng số hộ</td><td class="households">{vn_number(totals["households"])}</td></tr>'
        "<tr><td>Quỹ phụ cấp hiện nay (đồng/năm)</td>"
        f"<td>{vn_number(round(totals['allowance_fund_before_vnd_per_year']))}</td></tr>"
        "<tr><td>Tiết kiệm (đồng/năm)</td>"
        f"<td>{vn_number(round(totals['allowance_saving_vnd_per_year']))}</td></tr>"
        '<tr><td>Điểm tổng hợp</td><td class="composite">'
        f"{vn_number(totals['composite_score'])}</td></tr>"
        "</table>"
    )
    conflicts = editor.conflicts()
    if conflicts:
        items = "".join(f"<li>{html.escape(c)}</li>" for c in conflicts)
        parts.append(f'<p><b>Xung đột</b></p><ul class="editor-conflicts">{items}</ul>')
    units = editor.units().assign(
        is_compliant=lambda u: u["is_compliant"].map({True: "đạt", False: "CHƯA ĐẠT"}),
        is_contiguous=lambda u: u["is_contiguous"].map({True: "liền kề", False: "KHÔNG LIỀN KỀ"}),
        is_locked=lambda u: u["is_locked"].map({True: "khóa", False: ""}),
    )
    parts.append(planner_table(units).set_table_attributes('class="editor-units"').to_html())
    scores = editor.scores()[["source", "option_name", "units_after", "compliant_units_after",
                              "allowance_saving_vnd_per_year", "composite_score"]]  # fmt: skip
    parts.append("<p><b>So sánh với các phương án đã công bố</b></p>")
    parts.append(planner_table(scores).to_html())
    return "".join(parts)


def plan_editor_app(
    warehouse: Warehouse,
    commune: CommuneMarts,
    editor: PlanEditor,
    communes: list[str] | None = None,
    *,
    decided_by: str = "",
    load: object = None,
    dean_folder: Path | None = None,
) -> widgets.Widget:
    """The map and panel. ``communes`` fills the commune dropdown; ``load(code)`` returns
    a new ``PlanEditor`` for a chosen commune; with ``dean_folder`` a button writes the
    commune's đề án (Word and Excel annexes) there, as ``hamlets dean`` does, from the
    decision in force (a saved draft included, marked DỰ THẢO). *Bắt đầu từ* lists the
    published options and the commune's saved drafts (``PlanEditor.start_choices``); a
    draft that no longer fits is refused in the panel, the plan left as it was."""
    hamlets = commune.hamlets.to_crs(4326)
    minx, miny, maxx, maxy = hamlets.total_bounds
    leaflet = ipyleaflet.Map(
        center=((miny + maxy) / 2, (minx + maxx) / 2),
        zoom=13,
        scroll_wheel_zoom=True,
        layout=widgets.Layout(height="560px", width="100%"),
    )
    leaflet.clear_layers()  # no base layer: no tile server, works offline
    leaflet.fit_bounds([[miny, minx], [maxy, maxx]])
    state: dict = {"editor": editor, "layers": [], "drawing": False}
    panel = widgets.HTML()
    start = widgets.Dropdown(description="Bắt đầu từ")
    target = widgets.Dropdown(description="Chuyển vào")
    undo = widgets.Button(description="Hoàn tác", icon="undo")
    lock = widgets.Button(description="Khóa/mở đơn vị")
    note = widgets.Text(description="Ghi chú")
    accept = widgets.Checkbox(description="Chấp nhận đơn vị dưới chuẩn (ghi lý do)")
    author = widgets.Text(description="Người lập", value=decided_by)
    save = widgets.Button(description="Lưu bản dự thảo", button_style="primary")
    saved = widgets.HTML()
    dean = widgets.Button(description="Viết đề án (Word, Excel)")
    chooser = widgets.Dropdown(
        description="Xã", options=communes or [commune.commune_code], value=commune.commune_code
    )
    legend = ipyleaflet.LegendControl({}, title="Đơn vị", position="bottomright")
    leaflet.add(legend)

    def redraw(message: str = "", *, choices: bool = False) -> None:
        ed: PlanEditor = state["editor"]
        for layer in state["layers"]:
            leaflet.remove(layer)
        shapes = ipyleaflet.GeoJSON(data=features(ed), hover_style={"fillOpacity": 0.9})
        shapes.on_click(clicked)
        labels = ipyleaflet.LayerGroup(layers=label_markers(ed))
        state["layers"] = [shapes, labels]
        leaflet.add(shapes)
        leaflet.add(labels)
        colours = unit_colours(ed)
        legend.legend = {ed.unit_name(u): c for u, c in colours.items()}
        units = sorted(colours)
        state["drawing"] = True  # setting the dropdowns is not the planner choosing
        try:
            target.options = [(ed.unit_name(u) + f" ({u})", u) for u in units] + [
                ("Đơn vị mới (tách riêng)", NEW_UNIT)
            ]
            if choices:
                start.options = ed.start_choices(warehouse)
            start.value = ed.started_from
        finally:
            state["drawing"] = False
        panel.value = panel_html(ed, message)

    def clicked(feature: dict | None = None, **_: object) -> None:
        ed: PlanEditor = state["editor"]
        code = (feature or {}).get("properties", {}).get("hamlet_code")
        try:
            ed.move(code, target.value)
        except EditError as refused:
            redraw(f"Không chấp nhận: {refused}")
            return
        redraw()

    def on_start(change: dict) -> None:
        ed: PlanEditor = state["editor"]
        if state["drawing"] or not change["new"] or change["new"] == ed.started_from:
            return
        try:
            ed.begin(warehouse, change["new"])
        except EditError as refused:
            redraw(f"Không mở được: {refused}")
            return
        redraw()

    def on_undo(_: object) -> None:
        redraw("" if state["editor"].undo() else "Không còn gì để hoàn tác")

    def on_lock(_: object) -> None:
        if target.value != NEW_UNIT:
            state["editor"].toggle_lock(target.value)
        redraw()

    def on_save(_: object) -> None:
        ed: PlanEditor = state["editor"]
        try:
            recorded = ed.save(
                warehouse, decided_by=author.value or None, note=note.value,
                accept_below_standard=accept.value,
            )  # fmt: skip
        except (DecisionError, AssignmentError, WarehouseError) as refused:
            saved.value = f'<p style="color:#b30000">{html.escape(str(refused))}</p>'
            return
        saved.value = (
            f'<p class="editor-saved">Đã lưu bản dự thảo {html.escape(recorded.decision_id)}</p>'
        )
        redraw(choices=True)  # the new draft joins *Bắt đầu từ*

    def on_dean(_: object) -> None:
        ed: PlanEditor = state["editor"]
        folder = Path(dean_folder or ".")
        written = write_commune_deans(
            warehouse, ed.commune.province_code, folder, [ed.commune.commune_code]
        )
        names = ", ".join(html.escape(str(p)) for f in written for p in (f["docx"], f["annexes"]))
        saved.value = f'<p class="editor-dean">Đã viết {names}</p>'

    def on_commune(change: dict) -> None:
        if callable(load) and change["new"] != state["editor"].commune.commune_code:
            state["editor"] = load(change["new"])
            redraw(choices=True)

    start.observe(on_start, names="value")
    undo.on_click(on_undo)
    lock.on_click(on_lock)
    save.on_click(on_save)
    dean.on_click(on_dean)
    chooser.observe(on_commune, names="value")
    redraw(choices=True)
    controls = widgets.VBox([chooser, start, target, widgets.HBox([undo, lock])])
    saving = widgets.VBox([author, note, accept, save, *([dean] if dean_folder else []), saved])
    app = widgets.HBox(
        [
            widgets.VBox([controls, leaflet], layout=widgets.Layout(width="55%")),
            widgets.VBox([panel, saving], layout=widgets.Layout(width="45%")),
        ]
    )
    app.add_class("plan-editor")
    return app

"""PNG of a written layout, drawn by KLayout's own renderer (headless ``klayout.lay.LayoutView``).

Colours and fill patterns come from ``layouts/optinc.lyp`` (the PDK's layer views), so the image
looks like the layout does in KLayout. The hierarchy is drawn in full; KLayout draws instances
smaller than a few pixels as boxes, so even a million-MZI layout renders in seconds.
"""

from __future__ import annotations

from pathlib import Path

from optinc_pdk.core.atomic import atomic_path
from optinc_pdk.pdk.tech import LYP_PATH


def render_png(layout_path: str | Path, png_path: str | Path, width: int = 1600, height: int | None = None,
               box: tuple[float, float, float, float] | None = None, lyp: str | Path = LYP_PATH,
               cell: str | None = None) -> Path:
    """Render ``layout_path`` (GDS or OASIS) to ``png_path`` (written atomically).

    ``box`` (µm: x0, y0, x1, y1) zooms on a region; by default the whole top cell is shown, and the
    height follows the layout's aspect ratio (at most 4·width). ``cell``: show this top cell (a die
    build has one per die).
    """
    import klayout.db as kdb
    import klayout.lay as lay

    view = lay.LayoutView()
    view.set_config("background-color", "#ffffff")
    view.set_config("grid-visible", "false")
    view.set_config("text-visible", "false")
    index = view.load_layout(str(layout_path), True)
    view.load_layer_props(str(lyp))
    view.max_hier()
    layout = view.cellview(index).layout()
    shown = layout.top_cell() if cell is None else layout.cell(cell)
    if cell is not None:
        view.select_cell(shown.cell_index(), index)
    bbox = shown.dbbox() if box is None else kdb.DBox(*box)
    if height is None:
        aspect = bbox.height() / bbox.width() if bbox.width() > 0 else 1.0
        height = max(64, min(4 * width, round(width * aspect)))
    margin = 0.02 * max(bbox.width(), bbox.height())
    target = bbox.enlarged(margin, margin)
    with atomic_path(png_path) as tmp:
        view.save_image_with_options(str(tmp), width, height, 0, 1, 0, target, False)
    return Path(png_path)

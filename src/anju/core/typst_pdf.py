"""PDF documents rendered with typst and a CJK font (calculation sheets, dispatch reports).

A template reads its data from ``sys.inputs.data`` (JSON). Set ``#set document(date: none)`` in a
template whose PDF must be reproducible byte for byte (an archived document re-rendered from
its frozen data): typst otherwise stamps the creation date.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typst

# Noto CJK (fonts-noto-cjk) first, WenQuanYi as the fallback of smaller installations.
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/wqy", "/usr/share/fonts")
#: Noto Sans SC, copied here from npm by scripts/setup.sh: Chinese PDFs on a machine without CJK fonts.
PACKAGED_FONTS = Path(__file__).resolve().parents[1] / "fonts"
#: The font families the templates ask for, in order: the system's Noto CJK, then the packaged font.
PACKAGED_FAMILY = "Noto Sans SC"


@lru_cache(maxsize=1)
def font_paths() -> list[str]:
    """The font folders present on this machine, the packaged one first."""
    return [d for d in (str(PACKAGED_FONTS), *FONT_DIRS) if Path(d).is_dir()]


@lru_cache(maxsize=1)
def fonts() -> typst.Fonts:
    """The fonts (system, typst's embedded ones and :func:`font_paths`), found once per process.

    Given folder names, typst searches them on every compile: with the CJK fonts (about 100 MB)
    that was most of a PDF's time (0.5-1 s for a one-page agreement). The found set serves every
    thread and gives the same bytes.
    """
    import typst

    return typst.Fonts(include_system_fonts=True, include_embedded_fonts=True, font_paths=font_paths())


def render_pdf(template: Path, data: dict[str, Any]) -> bytes:
    """Compile the typst ``template`` with ``data`` (JSON-able) as ``sys.inputs.data``; the PDF bytes."""
    import typst

    pdf: bytes = typst.compile(
        str(template),
        font_paths=fonts(),
        sys_inputs={"data": json.dumps(data, ensure_ascii=False)},
    )
    return pdf

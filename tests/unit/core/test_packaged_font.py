"""The CJK font comes with the setup step: a PDF renders Chinese with the system's fonts hidden."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from anju.core import typst_pdf

TEMPLATES = Path(typst_pdf.__file__).resolve().parents[1] / "templates"
DOC = """#set text(font: ("Noto Serif CJK SC", "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei"), lang: "zh")
= 房屋征收补偿协议
合法面积 317.63 ㎡ × 重置价 1,000 元/㎡ = 317,630.00 元；第 8 日签约。
#text(weight: "bold")[合计：壹拾万元整]
"""


def test_setup_copied_the_packaged_font_and_typst_looks_there_first() -> None:
    names = sorted(p.name for p in typst_pdf.PACKAGED_FONTS.glob("*.ttf"))
    assert names == ["NotoSansSC_400Regular.ttf", "NotoSansSC_700Bold.ttf"], "run scripts/setup.sh"
    assert typst_pdf.font_paths()[0] == str(typst_pdf.PACKAGED_FONTS)


def test_every_template_falls_back_to_the_packaged_family() -> None:
    for template in sorted(TEMPLATES.rglob("*.typ")):
        text = template.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "font: (" in line:
                assert f'"{typst_pdf.PACKAGED_FAMILY}"' in line, f"{template.name}: {line.strip()}"


def test_chinese_renders_with_only_the_packaged_font(tmp_path: Path) -> None:
    import typst

    source = tmp_path / "doc.typ"
    source.write_text(DOC, encoding="utf-8")
    fonts = typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=True, font_paths=[str(typst_pdf.PACKAGED_FONTS)]
    )
    pdf = typst.compile(str(source), font_paths=fonts)
    assert isinstance(pdf, bytes)
    assert b"NotoSansSC-Regular" in pdf and b"NotoSansSC-Bold" in pdf
    if shutil.which("pdftotext"):  # poppler-utils (installed by .ci/run): the text comes back whole
        out = tmp_path / "doc.pdf"
        out.write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
        assert "房屋征收补偿协议" in text and "重置价 1,000 元/㎡" in text and "壹拾万元整" in text

"""Upload inspection (anju.core.uploads): real types, zip sizes and ratios, sheet extents, csv, JSON, images."""

from __future__ import annotations

import io
import pickle
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

import pytest

from anju.core import sheet_scan, upload_zip
from anju.core import uploads as u

LIMITS = u.UploadLimits()

CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="户" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def sheet_xml(cells: list[str], dimension: str | None = None, body: str | None = None) -> str:
    """A worksheet whose cells (references) each hold an inline string."""
    rows: dict[int, list[str]] = {}
    for ref in cells:
        rows.setdefault(int(re.sub("[A-Z]", "", ref)), []).append(ref)
    if body is None:
        body = "".join(
            f'<row r="{r}">'
            + "".join(f'<c r="{c}" t="inlineStr"><is><t>x</t></is></c>' for c in cs)
            + "</row>"
            for r, cs in sorted(rows.items())
        )
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{body}</sheetData></worksheet>"
    )


def xlsx(sheet: str, extra: dict[str, bytes | str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


# ---------------------------------------------------------------- sniffing and names


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png(1, 1), "png"),
        (jpeg(1, 1), "jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8X", "webp"),
        (b"%PDF-1.7\n", "pdf"),
        (b"PK\x03\x04rest", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
        (b"\x7fELF\x02\x01\x01", "elf"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "pe"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "html"),
        (b"\xef\xbb\xbf  <HTML><body>", "html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b"<svg onload=alert(1)>", "svg"),
        ("户号,户主姓名\nA1,张三\n".encode(), "text"),
        ("户号,户主姓名\n".encode("gb18030"), "text"),
        (b"BMI,weight\n20,60\n", "text"),  # starts like a BMP, is text
        (b"MZ,column\n", "text"),
        (b"", "empty"),
        (b"\x00\x01\x02\x03", "unknown"),
    ],
)
def test_sniff_by_content(data: bytes, kind: str) -> None:
    assert u.sniff(data) == kind


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.xlsx", "passwd.xlsx"),
        ("..\\..\\Windows\\入户调查表.xlsx", "入户调查表.xlsx"),
        ("/abs/path/a.csv", "a.csv"),
        ("\u202eslx.exe", "slx.exe"),
        ("a\x00b\x1b.png", "ab.png"),
        ("..", "file"),
        ("", "file"),
        ("x" * 300 + ".xlsx", "x" * 195 + ".xlsx"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert u.safe_filename(name) == safe


# ---------------------------------------------------------------- workbooks


def test_a1_and_xfd1048576_is_refused_before_any_reader() -> None:
    data = xlsx(sheet_xml(["A1", "XFD1048576"], "A1:XFD1048576"))
    assert len(data) < 2000
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "炸弹.xlsx", LIMITS)
    e = exc.value
    assert e.code == "upload_too_large"
    assert (e.limit, e.actual) == (10_000_000, 17_179_869_184)
    assert (
        "文件“炸弹.xlsx”工作表“户”的单元格范围为 1,048,576 行 × 16,384 列 = 17,179,869,184 格" in e.message_zh
    )
    assert "超过上限 10,000,000 格" in e.message_zh


def test_a_dimension_that_lies_small_does_not_help() -> None:
    data = xlsx(sheet_xml(["A1", "B2", "XFD1048576"], "A1:B2"))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "lie.xlsx", LIMITS)
    assert exc.value.actual == 17_179_869_184
    assert "（声明范围 A1:B2）" in exc.value.message_zh


def test_a_dimension_that_declares_the_whole_sheet_is_refused_too() -> None:
    data = xlsx(sheet_xml(["A1"], "A1:XFD1048576"))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "d.xlsx", LIMITS)
    assert exc.value.actual == 17_179_869_184


def test_a_normal_sheet_measures_exactly() -> None:
    report = u.inspect_workbook(xlsx(sheet_xml(["A1", "B1", "A2", "N30"], "A1:N30")), "ok.xlsx", LIMITS)
    assert report.kind == "xlsx"
    [s] = report.sheets
    assert (s.title, s.part, s.declared_ref, s.max_row, s.max_column, s.cells) == (
        "户",
        "xl/worksheets/sheet1.xml",
        "A1:N30",
        30,
        14,
        4,
    )
    assert s.grid_cells == 30 * 14


def test_a_far_cell_among_ordered_rows_is_found_in_any_chunk() -> None:
    cells = [f"A{r}" for r in range(1, 3001)] + ["C7"]
    body = "".join(
        f'<row r="{r}"><c r="A{r}"><v>1</v></c>'
        + ('<c r="ZZ5000000"><v>1</v></c>' if r == 2000 else "")
        + "</row>"
        for r in range(1, 3001)
    )
    scanner = sheet_scan._SheetScanner("p", "户")
    for chunk in u.iter_chunks(sheet_xml(cells, body=body).encode(), 997):  # tags cut at every boundary
        scanner.feed(chunk)
    s = scanner.finish()
    assert (s.max_row, s.max_column, s.cells) == (5_000_000, 702, 3001)


def test_cells_and_rows_without_references_are_placed_like_the_reader_does() -> None:
    body = "<row>" + "<c><v>1</v></c>" * 5 + "</row><row><c><v>2</v></c></row>"
    [s] = u.inspect_workbook(xlsx(sheet_xml([], body=body)), "r.xlsx", LIMITS).sheets
    assert (s.max_row, s.max_column, s.cells) == (2, 5, 6)
    body = '<row r="3"><c r="C3"><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>'
    [s] = u.inspect_workbook(xlsx(sheet_xml([], body=body)), "r.xlsx", LIMITS).sheets
    assert (s.max_row, s.max_column, s.cells) == (4, 4, 3)
    # many empty rows without numbers, then a cell far to the right: the rows count
    body = '<row r="1"><c r="XFD1"><v>1</v></c></row>' + "<row/>" * 2000 + "<row><c><v>1</v></c></row>"
    limits = u.UploadLimits(max_sheet_cells=16_384 * 2000)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(xlsx(sheet_xml([], body=body)), "r.xlsx", limits)
    assert exc.value.actual == 2002 * 16_384


def test_chunked_and_whole_scans_agree() -> None:
    text = sheet_xml([f"{c}{r}" for r in range(1, 400) for c in "ABCDEFGHIJKLMN"], "A1:N399").encode()
    whole = sheet_scan._SheetScanner("p")
    whole.feed(text)
    cut = sheet_scan._SheetScanner("p")
    for chunk in u.iter_chunks(text, 13):
        cut.feed(chunk)
    a, b = whole.finish(), cut.finish()
    assert (a.max_row, a.max_column, a.cells) == (b.max_row, b.max_column, b.cells) == (399, 14, 399 * 14)
    assert a.row_bound >= 399 and a.grid_cells <= 400 * 14


def test_deflate_bomb_stops_at_the_ratio_cap() -> None:
    zeros = b"<row/>" * (2 * 1024 * 1024 // 6)
    data = xlsx(sheet_xml([], body=zeros.decode()))
    limits = u.UploadLimits(max_ratio=20, ratio_floor_bytes=64 * 1024)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "bomb.xlsx", limits)
    assert exc.value.code == "upload_too_large"
    assert "压缩比超过上限 20 倍" in exc.value.message_zh and "疑似压缩炸弹" in exc.value.message_zh
    assert exc.value.part == "xl/worksheets/sheet1.xml"


def test_total_uncompressed_size_is_capped() -> None:
    data = xlsx(sheet_xml(["A1"]), {"xl/media/a.bin": b"a" * 300_000, "xl/media/b.bin": b"b" * 300_000})
    limits = u.UploadLimits(max_unzipped_bytes=500_000, max_ratio=10_000)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "big.xlsx", limits)
    assert exc.value.code == "upload_too_large"
    assert "声明的解压后总大小（字节）为 600,932，超过上限 500,000" in exc.value.message_zh
    # the second member declaring 10 bytes: its actual bytes are counted, and the cap holds
    lying = _patch_sizes(data, b"xl/media/b.bin", 10)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(lying, "big.xlsx", limits)
    assert exc.value.code == "upload_too_large"
    assert "解压后超过 500,000 字节的上限（至压缩成员“xl/media/b.bin”处）" in exc.value.message_zh


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size a member declares (local and central headers)."""
    out = bytearray(data)
    i = out.find(b"PK\x03\x04")
    while i >= 0:
        n = struct.unpack_from("<H", out, i + 26)[0]
        if bytes(out[i + 30 : i + 30 + n]) == name:
            struct.pack_into("<I", out, i + 22, size)
        i = out.find(b"PK\x03\x04", i + 4)
    i = out.find(b"PK\x01\x02")
    while i >= 0:
        n = struct.unpack_from("<H", out, i + 28)[0]
        if bytes(out[i + 46 : i + 46 + n]) == name:
            struct.pack_into("<I", out, i + 24, size)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


def test_a_lying_zip_header_is_measured_not_trusted() -> None:
    data = _patch_sizes(
        xlsx(sheet_xml(["A1"]), {"xl/sharedStrings.xml": "<sst>" + "x" * 500_000 + "</sst>"}),
        b"xl/sharedStrings.xml",
        100,
    )
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/sharedStrings.xml").file_size == 100
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "lie.xlsx", LIMITS)
    assert exc.value.code == "upload_unsafe"
    assert "声明解压后 100 字节，实际为 500,011 字节" in exc.value.message_zh


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/etc/cron.d/x", "xl\\worksheets\\sheet9.xml", "a/../../b.xml", "C:/x"]
)
def test_member_path_names_are_checked(name: str) -> None:
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(xlsx(sheet_xml(["A1"]), {name: "x"}), "p.xlsx", LIMITS)
    assert exc.value.code == "upload_unsafe" and "包含非法路径的压缩成员" in exc.value.message_zh


def test_duplicate_members_are_refused() -> None:
    buf = io.BytesIO()
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/workbook.xml", WB)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(buf.getvalue(), "dup.xlsx", LIMITS)
    assert "含同名的压缩成员" in exc.value.message_zh


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (b"<html><body><script>alert(1)</script></body></html>", "HTML 网页"),
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "Linux 可执行程序"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "Windows 可执行程序"),
        (b"%PDF-1.4\n", "PDF 文件"),
    ],
)
def test_a_workbook_name_does_not_make_a_workbook(data: bytes, label: str) -> None:
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "入户调查表.xlsx", LIMITS)
    assert exc.value.code == "upload_wrong_type"
    assert (
        exc.value.message_zh
        == f"文件“入户调查表.xlsx”的内容是{label}，不是Excel 工作簿（.xlsx 或 .xls），已拒绝"
    )


def test_forked_scan_sends_the_refusal_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_zip, "FORK_MIN_BYTES", 0)  # the zip part decides
    data = xlsx(sheet_xml(["A1", "XFD1048576"]))
    kind, inspection = u.open_workbook(data, "f.xlsx", LIMITS, order=("户",), fork=True)
    assert kind == "xlsx" and inspection is not None and inspection._forked is not None
    with pytest.raises(u.UploadRejected) as exc:
        inspection.sheet("户")
    assert exc.value.actual == 17_179_869_184
    inspection.close()
    assert pickle.loads(pickle.dumps(exc.value)).message_zh == exc.value.message_zh


def test_an_unknown_sheet_name_scans_every_sheet() -> None:
    _kind, inspection = u.open_workbook(xlsx(sheet_xml(["A1", "XFD1048576"])), "n.xlsx", LIMITS)
    assert inspection is not None
    with pytest.raises(u.UploadRejected):
        inspection.sheet("别的名字")


def test_the_census_template_passes() -> None:
    from anju.household import census

    report = u.inspect_workbook(census.template_bytes(), "入户调查表.xlsx", LIMITS)
    assert [s.title for s in report.sheets] == ["户", "成员", "房屋", "承租人", "宅基地", "评估", "填写说明"]


# ---------------------------------------------------------------- csv, JSON, images


def test_csv_bounds() -> None:
    assert u.inspect_csv("户号,户主姓名\nA1,张三\n".encode(), "a.csv", LIMITS) == u.CsvReport(2, 19, 2)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_csv(b"a," * 60_000, "long.csv", LIMITS)
    assert "最长一行的字节数为 120,000，超过上限 100,000" in exc.value.message_zh
    with pytest.raises(u.UploadRejected):
        u.inspect_csv(b"a\n" * 11, "lines.csv", u.UploadLimits(max_lines=10))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_csv(b"a,b\x00\n", "nul.csv", LIMITS)
    assert exc.value.code == "upload_corrupt"


def test_json_depth_and_coordinates() -> None:
    geo = b'{"type":"Polygon","name":"[[[","coordinates":[[[120.1,30.2],[120.2,30.3],[120.1,30.2]]]}'
    assert u.inspect_json(geo, "g.geojson", LIMITS) == u.JsonReport(depth=4, coordinates=3)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_json(b"[" * 100 + b"]" * 100, "deep.json", LIMITS)
    assert "嵌套层数为 65，超过上限 64" in exc.value.message_zh
    with pytest.raises(u.UploadRejected):
        u.inspect_json(geo, "g.geojson", u.UploadLimits(max_json_coordinates=2))


def test_image_dimensions() -> None:
    assert u.image_size(png(640, 480), "png") == u.ImageSize("png", 640, 480)
    assert u.image_size(jpeg(4000, 3000), "jpeg") == u.ImageSize("jpeg", 4000, 3000)
    assert u.image_size(b"GIF89a" + struct.pack("<HH", 320, 200), "gif") == u.ImageSize("gif", 320, 200)
    vp8x = (
        b"RIFF\x00\x00\x00\x00WEBPVP8X"
        + b"\x0a\x00\x00\x00"
        + b"\x00" * 4
        + (799).to_bytes(3, "little")
        + (599).to_bytes(3, "little")
    )
    assert u.image_size(vp8x, "webp") == u.ImageSize("webp", 800, 600)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_image(png(20_000, 20_000), "huge.png", "png", LIMITS)
    assert "图片像素数为 400,000,000，超过上限 50,000,000" in exc.value.message_zh
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_image(png(100_000, 1), "wide.png", "png", LIMITS)
    assert "图片边长（像素）为 100,000" in exc.value.message_zh
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "empty.png", "png", LIMITS)
    assert exc.value.code == "upload_corrupt"


# ---------------------------------------------------------------- attachments and sealing


def test_attachment_types_come_from_the_content() -> None:
    ok = u.inspect_attachment(png(10, 10), "a.png", "image/png", LIMITS)
    assert (ok.kind, ok.content_type, ok.inline, ok.width) == ("png", "image/png", True, 10)
    assert u.inspect_attachment(jpeg(10, 10), "a.jpg", "image/jpg", LIMITS).content_type == "image/jpeg"
    assert u.inspect_attachment(png(10, 10), "a", "application/octet-stream", LIMITS).inline
    pdf = u.inspect_attachment(b"%PDF-1.7\n%%EOF", "a.pdf", "application/pdf", LIMITS)
    assert (pdf.content_type, pdf.inline) == ("application/pdf", False)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    assert u.inspect_attachment(docx.getvalue(), "a.docx", "", LIMITS).kind == "docx"


@pytest.mark.parametrize(
    ("data", "declared", "code", "text"),
    [
        (
            b"<html><script>alert(document.cookie)</script></html>",
            "image/png",
            "upload_wrong_type",
            "的内容是HTML 网页",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            "image/svg+xml",
            "upload_wrong_type",
            "SVG",
        ),
        (png(10, 10), "image/jpeg", "upload_type_mismatch", "声明的类型为 image/jpeg，但内容是PNG 图片"),
        (b"%PDF-1.7", "text/html", "upload_type_mismatch", "声明的类型为 text/html，但内容是PDF 文件"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/pdf", "upload_wrong_type", "Windows 可执行程序"),
        (b"", "image/png", "upload_empty", "为空"),
    ],
)
def test_attachments_refused(data: bytes, declared: str, code: str, text: str) -> None:
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_attachment(data, "x.png", declared, LIMITS)
    assert exc.value.code == code and text in exc.value.message_zh


def test_serving_type_is_sniffed_again() -> None:
    assert u.serving(png(1, 1)) == ("image/png", True)
    assert u.serving(b"%PDF-1.7") == ("application/pdf", False)
    assert u.serving(b"<html><script>x</script>") == ("application/octet-stream", False)
    assert u.serving(b"<svg onload=x>") == ("application/octet-stream", False)


def test_seal_round_trip_and_wrong_key() -> None:
    key = u.new_key()
    blob = u.seal(key, "身份证号 110101199003074514".encode())
    assert b"110101199003074514" not in blob
    assert u.unseal(key, blob).decode() == "身份证号 110101199003074514"
    with pytest.raises(ValueError, match="does not open"):
        u.unseal(u.new_key(), blob)
    with pytest.raises(ValueError, match="not a sealed file"):
        u.unseal(key, b"plain")


# ---------------------------------------------------------------- xls (OLE2 / BIFF8), written here


def _biff(rtype: int, body: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(body)) + body


def _sst(long_chars: int) -> bytes:
    """A shared-string table: a Latin-1 string of ``long_chars`` characters that runs on over
    CONTINUE records, then "短" (UTF-16), as Excel splits them (a flags byte at each run-on)."""
    text = b"x" * long_chars
    first = 8224 - 8 - 3
    out = _biff(0x00FC, struct.pack("<IIHB", 2, 2, long_chars, 0) + text[:first])
    rest = text[first:]
    while len(rest) > 8223:
        out += _biff(0x003C, b"\x00" + rest[:8223])
        rest = rest[8223:]
    return out + _biff(0x003C, b"\x00" + rest + struct.pack("<HB", 1, 1) + "短".encode("utf-16-le"))


def _xls(
    cells: list[tuple[int, int]],
    dims: tuple[int, int] | None = None,
    labels: list[tuple[int, int, int]] | None = None,
    sst: bytes = b"",
) -> bytes:
    """A minimal Excel 97-2003 file: one sheet 户 with a NUMBER record at each (row, column) and a
    LABELSST record (shared string ``isst``) at each (row, column, isst)."""
    name = "户".encode("utf-16-le")
    sheet = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0, 0, 0, 0))
    if dims is not None:
        sheet += _biff(0x0200, struct.pack("<IIHHH", 0, dims[0], 0, dims[1], 0))
    for row, col in cells:
        sheet += _biff(0x0203, struct.pack("<HHHd", row, col, 0, 1.0))
    for row, col, isst in labels or []:
        sheet += _biff(0x00FD, struct.pack("<HHHI", row, col, 0, isst))
    sheet += _biff(0x000A, b"")
    bof = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0))
    boundsheet_size = 4 + 8 + len(name)
    offset = len(bof) + boundsheet_size + len(sst) + 4  # the sheet's BOF follows the globals' EOF
    globals_ = (
        bof + _biff(0x0085, struct.pack("<IBBBB", offset, 0, 0, 1, 1) + name) + sst + _biff(0x000A, b"")
    )
    assert len(globals_) == offset
    stream = globals_ + sheet
    stream += bytes(max(0, 4096 - len(stream)))  # a regular stream (not in the mini stream)
    stream += bytes(-len(stream) % 512)
    n = len(stream) // 512
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    fat = [0xFFFFFFFD, end] + [3 + i for i in range(n - 1)] + [end]
    fat += [free] * (128 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    header += bytes(6) + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", free) * 108

    def entry(title: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = title.encode("utf-16-le") + b"\x00\x00"
        return (
            raw.ljust(64, b"\x00")
            + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", free, free, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<III", start, size, 0)
        )

    directory = entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, free, 2, len(stream))
    directory += bytes(128 * 2)
    return header + struct.pack("<128I", *fat) + directory + stream


def test_xls_extents_come_from_the_cell_records() -> None:
    [s] = u.inspect_xls(_xls([(0, 0), (9, 3)], dims=(10, 4)), "a.xls", LIMITS)
    assert (s.title, s.max_row, s.max_column, s.cells, s.declared_ref) == ("户", 10, 4, 2, "A1:D10")
    assert u.inspect_workbook(_xls([(0, 0)]), "a.xls", LIMITS).kind == "xls"


def test_xls_a1_and_iv65536_is_refused_even_when_its_dimensions_lie() -> None:
    data = _xls([(0, 0), (65535, 255)], dims=(1, 1))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "炸弹.xls", LIMITS)
    assert exc.value.actual == 65536 * 256
    assert "工作表“户”的单元格范围为 65,536 行 × 256 列 = 16,777,216 格" in exc.value.message_zh
    [s] = u.inspect_xls(data, "炸弹.xls", u.UploadLimits(max_sheet_cells=20_000_000))
    assert (s.max_row, s.max_column) == (65536, 256)


def test_a_damaged_ole_file_is_refused() -> None:
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "x.xls", LIMITS)
    assert exc.value.code == "upload_corrupt"


# ---------------------------------------------------------------- shared strings copied into cells


def _shared_workbook(strings: list[str], cells: list[tuple[str, int]]) -> bytes:
    sst = "<sst>" + "".join(f"<si><t>{t}</t></si>" for t in strings) + "</sst>"
    body = "".join(f'<row r="{ref[1:]}"><c r="{ref}" t="s"><v>{i}</v></c></row>' for ref, i in cells)
    rels = WB_RELS.replace(
        "</Relationships>",
        '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/sharedStrings.xml", sst)
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml([], body=body))
    return buf.getvalue()


def test_one_long_shared_string_in_many_cells_is_refused() -> None:
    data = _shared_workbook(["x" * 32_000], [(f"A{r}", 0) for r in range(1, 2001)])
    limits = u.UploadLimits(max_shared_text_bytes=50_000_000)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "s.xlsx", limits)
    assert exc.value.code == "upload_too_large" and exc.value.actual == 2000 * 32_008
    assert "单元格引用的共享文本合计 64,016,000 字节，超过上限 50,000,000 字节" in exc.value.message_zh


def test_a_long_shared_string_named_once_passes_after_an_exact_count() -> None:
    cells = [(f"A{r}", 1) for r in range(1, 2001)] + [("B1", 0)]
    data = _shared_workbook(["y" * 100_000, "短"], cells)
    [s] = u.inspect_workbook(data, "s.xlsx", u.UploadLimits(max_shared_text_bytes=10_000_000)).sheets
    assert s.shared_cells == 2001
    # each string is measured from the ">" of its <si> to its </si>
    assert s.shared_text == 100_008 + 2000 * len(">" + "<t>短</t>".encode().decode("latin-1"))


def test_xls_shared_strings_copied_into_many_cells_are_bounded() -> None:
    sst = _sst(20_000)
    data = _xls([], labels=[(r, 0, 0) for r in range(2000)] + [(0, 1, 1)], sst=sst)
    limits = u.UploadLimits(max_shared_text_bytes=10_000_000)
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_xls(data, "s.xls", limits)
    assert exc.value.actual == 500 * 20_000 + 20_000  # refused at the cell that crosses the limit
    assert "单元格引用的共享文本合计 10,020,000 字节，超过上限 10,000,000 字节" in exc.value.message_zh
    [s] = u.inspect_xls(data, "s.xls", u.UploadLimits(max_shared_text_bytes=100_000_000))
    assert (s.shared_cells, s.shared_text) == (2001, 2000 * 20_000 + 2)


def test_single_quoted_attributes_are_read_too() -> None:
    body = "<row r='1'><c r='A1'><v>1</v></c></row><row r='1048576'><c r='XFD1048576'><v>1</v></c></row>"
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(xlsx(sheet_xml([], body=body)), "q.xlsx", LIMITS)
    assert exc.value.actual == 17_179_869_184
    # a worksheet outside xl/worksheets, named by a single-quoted relationship
    rels = WB_RELS.replace('Target="worksheets/sheet1.xml"', "Target='other/data.xml'")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/other/data.xml", sheet_xml(["A1", "XFD1048576"]))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(buf.getvalue(), "q.xlsx", LIMITS)
    assert exc.value.part == "xl/other/data.xml" and "工作表“户”" in exc.value.message_zh


@pytest.mark.parametrize("typed", ['t="s"', "t='s'", 't = "s"', "t=\n's'"])
def test_shared_string_cells_are_counted_however_their_type_is_quoted(typed: str) -> None:
    data = _shared_workbook(["x" * 32_000], [(f"A{r}", 0) for r in range(1, 2001)])
    data = _rewrite_sheet(data, lambda xml: xml.replace('t="s"', typed))
    with pytest.raises(u.UploadRejected) as exc:
        u.inspect_workbook(data, "s.xlsx", u.UploadLimits(max_shared_text_bytes=50_000_000))
    assert exc.value.actual == 2000 * 32_008


def _rewrite_sheet(data: bytes, change: Callable[[str], str]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            body = src.read(name)
            z.writestr(name, change(body.decode()) if name == "xl/worksheets/sheet1.xml" else body)
    return buf.getvalue()

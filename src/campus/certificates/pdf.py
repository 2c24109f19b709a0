"""The certificate as a PDF (fpdf2, a maintained pure-Python library), one A4 landscape
page with the names in PT Sans (the ``fontpkg-pt-sans`` package, static TrueType files
made for Latin and Cyrillic, SIL Open Font License), the verification link, the
signature and the key id. (A variable font such as Noto Sans would need instancing with
fontTools first, seconds of CPU per process.)

The signature and key id are also in the document's metadata (subject and keywords), so a
program can read them without parsing the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import fontpkg_pt_sans  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

FONT = "PTSans"
_FILES = {"": "PT_Sans-Web-Regular.ttf", "B": "PT_Sans-Web-Bold.ttf"}


@dataclass(frozen=True, slots=True)
class PdfCertificate:
    code: str
    student_name: str
    course_title: str
    teacher_name: str
    issued_on: str
    revoked: bool
    revoked_on: str | None
    verify_url: str
    signature: str
    key_id: str
    issuer: str


@cache
def font_path(style: str) -> Path:
    path = Path(fontpkg_pt_sans.ROOT) / "files" / _FILES[style]
    if not path.is_file():  # pragma: no cover - a broken install
        raise RuntimeError(f"the PT Sans font is missing: {path}")
    return path


def render(cert: PdfCertificate) -> bytes:
    """The PDF's bytes (CPU-bound: call it in a worker thread)."""
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(f"Certificate of completion — {cert.course_title}")
    pdf.set_author(cert.issuer)
    pdf.set_creator("Campus")
    pdf.set_subject(f"campus-certificate {cert.code}")
    pdf.set_keywords(f"code={cert.code} signature={cert.signature} key_id={cert.key_id}")
    for style in _FILES:
        pdf.add_font(FONT, style, font_path(style))
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin

    pdf.set_draw_color(41, 82, 163)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_line_width(0.3)
    pdf.rect(14, 14, pdf.w - 28, pdf.h - 28)

    def line(text: str, size: float, *, style: str = "", gap: float = 4) -> None:
        pdf.set_font(FONT, style, size)
        pdf.multi_cell(width, size * 0.5, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    pdf.set_y(32)
    pdf.set_text_color(41, 82, 163)
    line("CERTIFICATE OF COMPLETION", 28, style="B", gap=10)
    pdf.set_text_color(40, 40, 40)
    line("This certifies that", 14)
    line(cert.student_name, 30, style="B", gap=6)
    line("has completed the course", 14)
    line(cert.course_title, 22, style="B", gap=6)
    line(f"taught by {cert.teacher_name}", 14)
    line(f"Issued on {cert.issued_on}", 14, gap=8)

    if cert.revoked:
        pdf.set_text_color(180, 20, 20)
        revoked = "REVOKED" + (f" on {cert.revoked_on}" if cert.revoked_on else "")
        line(revoked + " — this certificate is no longer valid", 18, style="B", gap=6)
        pdf.set_text_color(40, 40, 40)

    pdf.set_y(pdf.h - 52)
    pdf.set_text_color(90, 90, 90)
    line(f"Certificate {cert.code} · verify at {cert.verify_url}", 10, gap=1)
    line(f"Ed25519 signature (key {cert.key_id}):", 8, gap=0)
    line(cert.signature, 8, gap=0)
    return bytes(pdf.output())

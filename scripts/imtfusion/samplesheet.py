"""The sample sheet (``samples.tsv``: columns ``sample`` and ``bam``) and sample names.

Optional column ``primers``: the sample's primer BED (an anchored multiplex PCR panel,
:mod:`imtfusion.primers`), which overrides the config key ``primers``; optional columns ``specimen``, ``specimen_type``, ``block`` and ``tumour_content`` (or
``tumor_content``) fill the report's specimen block (:mod:`imtfusion.specimen`); other
columns are ignored.

Sample names become folder and file names, so they are restricted to letters, digits,
``.``, ``_`` and ``-`` (not starting with ``.`` or ``-``): no spaces, no ``/``, no
``..``; nothing can then be written outside the output folder.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from imtfusion.bamio import is_url
from imtfusion.errors import SampleSheetError
from imtfusion.specimen import check_specimen, field_name

SAMPLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
SAMPLE_NAME_PATTERN = SAMPLE_NAME.pattern
REQUIRED_COLUMNS = ("sample", "bam")


@dataclass(frozen=True, slots=True)
class SampleEntry:
    sample: str
    bam: str
    line: int
    specimen: tuple[tuple[str, str], ...] = ()  # (field, value) of imtfusion.specimen, validated
    bam_index: str = ""  # optional column bam_index: the BAM's index (a path or a URL), when not next to it
    primers: str = ""  # optional column primers: the sample's primer BED (anchored multiplex PCR)


def check_sample_name(name: str, where: str = "") -> str:
    if not SAMPLE_NAME.match(name or ""):
        shown = repr(name)
        raise SampleSheetError(
            f"{where}sample name {shown} is not allowed: use letters, digits, '.', '_' and '-' only "
            "(no spaces, no '/', not starting with '.' or '-'), at most 128 characters"
        )
    return name


def read_sample_sheet(path: str | Path, base_dir: str | Path | None = None) -> list[SampleEntry]:
    """Parse and validate a sample sheet; BAM paths are resolved against ``base_dir``.

    Tolerates a UTF-8 BOM, CRLF line ends, blank lines, ``#`` comments and extra
    columns; rejects missing columns, empty cells, invalid or duplicate sample names."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SampleSheetError(f"cannot read the sample sheet {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SampleSheetError(f"{path}: the sample sheet is not UTF-8 text; save it as UTF-8 TSV") from None
    lines = [
        (i, line)
        for i, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise SampleSheetError(f"{path}: the sample sheet is empty; it needs a header 'sample<TAB>bam' and one row per sample")
    header = [h.strip() for h in lines[0][1].split("\t")]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hint = " (the file looks comma-separated; use tabs)" if "," in lines[0][1] and "\t" not in lines[0][1] else ""
        raise SampleSheetError(
            f"{path}: missing column(s) {', '.join(missing)} in the header line{hint}; "
            "the sample sheet needs tab-separated columns 'sample' and 'bam'"
        )
    col = {name: header.index(name) for name in REQUIRED_COLUMNS}
    specimen_cols = [(i, field_name(h)) for i, h in enumerate(header) if field_name(h)]
    named = [f for _, f in specimen_cols]
    twice = sorted({f for f in named if named.count(f) > 1})
    if twice:
        raise SampleSheetError(
            f"{path}: the header gives the specimen column {twice[0]} twice (tumor_content and tumour_content "
            "are the same column); keep one"
        )
    entries: list[SampleEntry] = []
    seen: dict[str, int] = {}
    base = Path(base_dir) if base_dir is not None else None
    for lineno, line in lines[1:]:
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) < len(header):
            cells += [""] * (len(header) - len(cells))
        sample, bam = cells[col["sample"]], cells[col["bam"]]
        if not sample or not bam:
            raise SampleSheetError(f"{path}: line {lineno} has an empty 'sample' or 'bam' cell; fill it or delete the line")
        check_sample_name(sample, where=f"{path}: line {lineno}: ")
        if sample in seen:
            raise SampleSheetError(
                f"{path}: sample {sample!r} appears on lines {seen[sample]} and {lineno}; sample names must be unique"
            )
        seen[sample] = lineno
        bam_path = Path(bam) if not is_url(bam) else bam  # a URL is read as it is
        if base is not None and isinstance(bam_path, Path) and not bam_path.is_absolute():
            bam_path = base / bam_path
        specimen = check_specimen([(f, cells[i]) for i, f in specimen_cols], where=f"{path}: line {lineno}: ",
                                  error=SampleSheetError)
        index = cells[header.index("bam_index")] if "bam_index" in header else ""
        if index and not is_url(index) and base is not None and not Path(index).is_absolute():
            index = str(base / index)
        primers = cells[header.index("primers")] if "primers" in header else ""
        if primers and base is not None and not Path(primers).is_absolute():
            primers = str(base / primers)
        entries.append(SampleEntry(sample, str(bam_path), lineno, tuple(specimen.items()), index, primers))
    if not entries:
        raise SampleSheetError(f"{path}: the sample sheet has a header but no samples")
    return entries


def sample_sheet_text(entries: list[SampleEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    for e in entries:
        writer.writerow([e.sample, e.bam])
    return out.getvalue()

"""The steps of a survey wave's path, walked once and in order: read -> apply_codebook (per part)
-> union -> validate -> write (ingest/survey/__init__.py)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.codebook import Codebook
from ingest.faults import checkpoint
from ingest.survey.apply_codebook import apply_codebook, union
from ingest.survey.read import read_wave_file
from ingest.survey.validate import validate_wave
from ingest.survey.write import SurveyDelivery, write_wave


def load_wave(con, files: list[tuple[Path, Path | None, str | None]], cb: Codebook, *, code_lists: list[Path],
              delivered: list[Path], shown, source_file: str, sha256: str,
              audit: Callable[[str, SurveyDelivery], None]) -> tuple[SurveyDelivery, dict]:
    """Load one wave from the copies that are read. `files`: each data file (one, or the parts of a
    wave delivered in several: codebook `delivery.parts`) as (the copy read, the file as delivered,
    the checksum of what is read), the last two for the date it is checked against (settings.today);
    `code_lists`: the CSV code list(s) its codebook names; `delivered`: the data files as delivered
    and `shown` what a problem of the whole wave names; `source_file`, `sha256`: the wave row's;
    `audit(load_id, stored)`: records the load inside the write's transaction. Raises IngestError at
    the first problem (nothing written); returns what was stored and the wave's coverage."""
    in_parts = bool(cb.delivery.get("parts"))  # a wave in parts: its size is the union's
    parts = []
    for local, as_delivered, sha in files:
        table = read_wave_file(local, cb, code_lists)
        parts.append(apply_codebook(Path(local), table, cb, clock=(as_delivered, sha), part=in_parts))
    wave = union(parts, delivered, cb, in_parts)
    coverage = validate_wave(wave, cb, shown)
    checkpoint("survey:parsed")
    stored = write_wave(con, wave, cb, coverage, source_file=source_file, sha256=sha256, audit=audit)
    return stored, coverage


__all__ = ["load_wave"]

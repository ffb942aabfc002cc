"""Step 3 of a wave file's path (ingest/survey): validate the converted wave as a whole.

Checks of what the codebook step converted, against the codebook and the reference, for every part
of the wave in delivery order: the calendar (a wave is not delivered before its fieldwork ended),
respondent ids present and unique, codes in the codebook, weights (each, and their sum), ages,
municipality codes of the wave's boundary set. Then the wave as one: respondent ids unique across
its parts, its coverage against the fieldwork plan (a region without respondents: held as
incomplete) and, for a wave in parts, its size. Nothing is written before all of it has passed
(ingest/survey/write.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ingest.codebook import Codebook, delivery_defaults
from ingest.errors import Incomplete, IngestError, printable
from ingest.errors import shown as shown_value
from ingest.municipalities import municipality_name, regions
from ingest.settings import today
from ingest.survey.apply_codebook import Part, Wave, row_status_hint
from ingest.survey.read import Places


def validate_wave(wave: Wave, cb: Codebook, shown) -> dict:
    """Every check of the wave, in order; raises IngestError (Incomplete: held) at the first problem.
    `shown`: the delivered file(s), which a problem of the whole wave names. Returns its coverage
    (check_coverage): what the raw wave row and the load's notes say."""
    for part in wave.parts:
        _check_calendar(part.path, cb, part.clock)
        _check_against_codebook(part, cb)
        _check_municipalities(part, cb)
    if wave.in_parts:
        _check_ids_across_parts(wave, cb)
    coverage = check_coverage(wave, cb, shown)  # a part alone is incomplete before it is small
    if wave.in_parts:
        _check_union_size(wave, cb)
    return coverage


def _check_against_codebook(part: Part, cb: Codebook) -> None:
    """Respondent ids present and unique, codes in the codebook, weights, ages."""
    path, table, df, ids = part.path, part.table, part.df, part.ids
    places = Places(path, table, ids, hint=row_status_hint(cb, table))
    written = table.df

    def first(mask) -> int:
        return int(np.flatnonzero(np.asarray(mask))[0])

    if ids.isna().any():
        i = first(ids.isna())
        raise places.error(i, "respondent id is empty", cb.respondent_id)
    dup = ids.duplicated(keep="first")
    if dup.any():
        i = first(dup)
        other = int(table.rows[first(ids == ids.iloc[i])])
        raise places.error(i, f"duplicate respondent id (also on {table.row_word} {other})", cb.respondent_id,
                           value=written[cb.respondent_id].iloc[i])
    for var in cb.variables:
        if not var.codes:
            continue
        col = df[var.variable]
        bad = col.notna() & ~col.isin(list(var.codes))
        if bad.any():
            i = first(bad)
            raise places.error(i, f"code not in codebook {cb.path.name}", var.variable, row_value=True,
                               value=written[var.variable].iloc[i])
    if cb.weight is not None:
        weight = df[cb.weight]
        bad = weight.isna() | ~np.isfinite(weight.fillna(0)) | (weight <= 0)
        if bad.any():
            i = first(bad)
            raise places.error(i, "weight is missing, zero, negative or not finite", cb.weight, row_value=True,
                               value=written[cb.weight].iloc[i])
        _check_weights(path, places, weight, written[cb.weight], cb)
    age_var = cb.by_role("age").variable
    age = df[age_var]
    lo, hi = cb.age_range
    bad = age.isna() | (age < lo) | (age > hi)
    if bad.any():
        i = first(bad)
        raise places.error(i, f"age outside the wave's range {lo}-{hi}", age_var, row_value=True,
                           value=written[age_var].iloc[i])
    fractional = age != np.floor(age)
    if fractional.any():
        i = first(fractional)
        raise places.error(i, "age is not a whole number of years", age_var, row_value=True,
                           value=written[age_var].iloc[i])


def _check_weights(path: Path, places: Places, weight: pd.Series, written: pd.Series, cb: Codebook) -> None:
    """The delivered weights as a whole: none below the floor, and a sum that is either the
    respondents (normalised) or the population (grossed up): ingest/config/survey_delivery.yml."""
    rules = delivery_defaults()["weights"]
    floor = rules["floor"]
    low = weight < floor
    if low.any():
        i = int(np.flatnonzero(low.to_numpy())[0])
        raise places.error(i, f"weight below the floor of {floor} (weights.floor in ingest/config/survey_delivery.yml; "
                           f"{int(low.sum())} of the {len(weight)} weights are below it)", cb.weight,
                           value=written.iloc[i])
    total, n = float(weight.sum()), len(weight)
    norm, gross = rules["sum"]["normalised"], rules["sum"]["grossed_up"]
    if not (norm["min_ratio"] * n <= total <= norm["max_ratio"] * n or gross["min"] <= total <= gross["max"]):
        raise IngestError(path, f"the weights add up to {total:.6g} over {n} respondents: neither normalised (between "
                          f"{norm['min_ratio']:g} and {norm['max_ratio']:g} times the respondents) nor grossed up to the "
                          f"population (between {gross['min']} and {gross['max']}); weights.sum in "
                          "ingest/config/survey_delivery.yml", column=cb.weight, value=total)


def _check_municipalities(part: Part, cb: Codebook) -> None:
    """Codes of the wave's boundary set, or an alias valid for its fieldwork (applied by
    ingest/survey/apply_codebook.py); else an error naming the first empty or unknown code."""
    var = cb.by_role("municipality_code").variable
    codes, res, table = part.municipality_codes, part.municipality_resolution, part.table
    places = Places(part.path, table, part.ids, hint=row_status_hint(cb, table))
    if codes.isna().any():
        i = int(np.flatnonzero(codes.isna().to_numpy())[0])
        raise places.error(i, "municipality code is empty", var, row_value=True)
    if res.unknown:
        bad = codes.isin(list(res.unknown))
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise places.error(i, res.unknown[codes.iloc[i]], var, row_value=True, value=table.df[var].iloc[i])


def _check_calendar(path: Path, cb: Codebook, clock: tuple[Path | None, str | None] = (None, None)) -> None:
    """A wave cannot be delivered before its fieldwork ended (by today's date, ``settings.today``);
    without fieldwork dates, before its year began. No constant caps the wave year."""
    now = today(clock[0] or path, clock[1])
    if cb.fieldwork:
        start, end = cb.fieldwork
        if end > now:
            raise IngestError(path, f"the wave's fieldwork ({start} to {end}, codebook {cb.path.name}) ends after "
                              f"today ({now}): a delivery from the future? Check the codebook's wave and fieldwork")
    elif cb.wave > now.year:
        raise IngestError(path, f"wave {cb.wave} (codebook {cb.path.name}) is after the current year {now.year} "
                          f"(today is {now}): a delivery from the future? Check the codebook's wave")


def _check_ids_across_parts(wave: Wave, cb: Codebook) -> None:
    """A wave in parts: respondent ids unique across them (a clash names both files)."""
    delivered = wave.delivered
    first_of: dict[str, tuple[int, int]] = {}
    for k, part in enumerate(wave.parts):
        for i, rid in enumerate(part.ids.to_numpy()):
            if rid in first_of:
                j, place = first_of[rid]
                word = {"csv": "line", "excel": "row", "spss": "row"}[cb.delivery_format]
                here = int(part.table.rows[i])
                raise IngestError(delivered[k], f"respondent id {shown_value(rid).strip(chr(39))} is also in "
                                  f"{printable(delivered[j])} ({word} {place}): respondent ids must be unique across "
                                  "the parts of a wave (codebook delivery.parts)", row=here, row_word=word,
                                  column=cb.respondent_id, value=rid)
            first_of[rid] = (k, int(part.table.rows[i]))


def _check_union_size(wave: Wave, cb: Codebook) -> None:
    """A wave in parts: the union against expected_respondents (each part alone may be small)."""
    n, delivered = wave.n_respondents, wave.delivered
    lo, hi = cb.expected_respondents
    if not lo <= n <= hi:
        names = ", ".join(printable(d.name) for d in delivered)
        raise IngestError(delivered[0], f"the wave's {len(delivered)} part{'s' if len(delivered) > 1 else ''} ({names}) "
                          f"have {n} respondents together, {'fewer' if n < lo else 'more'} than the "
                          f"{lo if n < lo else hi} expected for wave {cb.wave} (expected_respondents in codebook "
                          f"{cb.path.name} or ingest/config/survey_delivery.yml)")


def check_coverage(wave: Wave, cb: Codebook, shown) -> dict:
    """Where the wave has respondents, against its fieldwork plan: every region of its boundary set (a
    national plan, the default), or the municipalities the codebook's coverage names. A region (or
    planned municipality) without respondents: the wave is incomplete (a part not delivered yet) and is
    held (errors.Incomplete), never published as national. A respondent outside a municipal plan is an
    error. Returns what the raw wave row and the load's notes say."""
    region_of = regions(cb.boundary_set)
    have = sorted(set(wave.municipalities.dropna()))
    have_regions = sorted({region_of[c] for c in have if c in region_of})
    all_regions = sorted(set(region_of.values()))
    n_units = len(region_of)
    notes = []
    if cb.planned_municipalities is None:
        missing = [r for r in all_regions if r not in have_regions]
        if missing:
            raise Incomplete(shown if not isinstance(shown, list) else shown[0],
                             f"incomplete wave {cb.wave}: no respondents in {len(missing)} of the {len(all_regions)} "
                             f"regions ({', '.join(missing)}); its fieldwork plan is national (codebook {cb.path.name} "
                             "has no coverage.municipalities). Held: nothing of it is loaded or published. A wave "
                             "delivered in parts (delivery.parts) loads when its missing part comes; a local survey "
                             "says so with coverage.municipalities")
        plan, planned = "national", None
        notes.append(f"coverage: respondents in {len(have_regions)} of {len(all_regions)} regions and {len(have)} of "
                     f"{n_units} municipalities ({cb.boundary_set})")
    else:
        planned_set = set(cb.planned_municipalities)
        unknown = sorted(planned_set - set(region_of))
        if unknown:
            raise IngestError(cb.path, f"coverage.municipalities names codes that are not units of {cb.boundary_set}",
                              column="coverage.municipalities", row_word="line", column_word="key", value=unknown)
        outside = [c for c in have if c not in planned_set]
        if outside:
            rows = int(wave.municipalities.isin(outside).sum())
            raise IngestError(shown if not isinstance(shown, list) else shown[0],
                              f"{rows} respondent(s) in municipalities outside the wave's fieldwork plan "
                              f"(coverage.municipalities of codebook {cb.path.name})", value=outside)
        missing = sorted(planned_set - set(have))
        if missing:
            raise Incomplete(shown if not isinstance(shown, list) else shown[0],
                             f"incomplete wave {cb.wave}: no respondents in {len(missing)} of the {len(planned_set)} "
                             "municipalities of its fieldwork plan ("
                             + ", ".join(f"{municipality_name(cb.boundary_set, c)} {c}" for c in missing)
                             + f"; coverage.municipalities of codebook {cb.path.name}). Held: nothing of it is loaded "
                             "or published")
        plan, planned = "municipalities", ",".join(sorted(planned_set))
        notes.append(f"coverage: a local survey of {len(planned_set)} municipalit{'y' if len(planned_set) == 1 else 'ies'} "
                     "(coverage.municipalities): published for them only, never as national or for a region it "
                     "does not cover whole")
    return {"plan": plan, "planned": planned, "municipalities": len(have), "regions": len(have_regions),
            "notes": notes}


__all__ = ["check_coverage", "validate_wave"]

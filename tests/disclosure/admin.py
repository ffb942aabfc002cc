"""A9 administrative differencing: the person counts of fct_service_provision by sex and by age band
add up to the row's total (per delivered unit, year and indicator row: the sets {total; women, men}
and {total; seven age bands}), so a withheld count is the total minus its published siblings when it
is the only unknown of its set; with several unknowns each lies in [0, total - published]. Ties to
other tables: mart_provision_per_capita publishes, per current municipality and year, the totals of
rows 13.x (summed), 11, 14 and 15; where a current unit is one delivered unit, a total missing from
fct_service_provision is read there (mart_trust_provision restates those figures rounded, per capita).

Recovered: a withheld count determined exactly and equal to the warehouse's value
(intermediate.int_admin__provision). Narrow: a set whose unknown counts share fewer than
`admin_min_person_count` persons (each of them then known to be below the threshold)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .published import Published
from .scoring import AttackResult, Finding
from .truth import ROW_KEY, Truth

SEX = ["women", "men"]
AGES = ["age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79", "age_80_89", "age_90_plus"]
TIES = {"day_care_recipients": ["11"], "waiting_year_end": ["14"], "social_work_specialists": ["15"]}


def attack_admin_differencing(pub: Published, truth: Truth, threshold: int) -> AttackResult:
    res = AttackResult("A9 admin differencing", pub.name)
    f = pub.tables["fct_service_provision"]
    f = f[f["measure"] == "count"]
    value = f.set_index(ROW_KEY + ["source_column"])["value"].astype(float).unstack()
    withheld = f.set_index(ROW_KEY + ["source_column"])["is_suppressed"].astype(bool).unstack().fillna(False).astype(bool)
    cols = ["total"] + SEX + AGES
    value, withheld = value.reindex(columns=cols), withheld.reindex(columns=cols, fill_value=False)
    t = truth.admin.set_index(ROW_KEY + ["source_column"])["value"].astype(float).unstack().reindex(
        index=value.index, columns=cols)
    totals = value["total"].copy()
    _ties(res, pub, value, withheld, t, totals)
    n_sets = 0
    for members in (SEX, AGES):
        V, W, T = value[members].to_numpy(float), withheld[members].to_numpy(bool), t[members].to_numpy(float)
        total = totals.to_numpy(float)
        unknown = np.isnan(V)
        has_total = ~np.isnan(total)
        use = has_total & unknown.any(axis=1) & W.any(axis=1)
        # the truth satisfies the additive constraint the attack uses, wherever it can be checked
        checkable = use & ~np.isnan(T).any(axis=1)
        bad = np.flatnonzero(checkable & (np.abs(np.nansum(T, axis=1) - t["total"].to_numpy(float)) > 1e-9))
        res.check_many(f"total = sum of {'sex' if members is SEX else 'age'} members (truth)", int(checkable.sum()),
                       [value.index[i] for i in bad[:5]] + [None] * max(0, len(bad) - 5))
        residual = total - np.nansum(np.where(unknown, 0.0, V), axis=1)
        n_unknown = unknown.sum(axis=1)
        n_sets += int(use.sum())
        bad = use & (residual < -1e-9)
        res.failures += [f"infeasible: {value.index[i]} published members exceed the total" for i in np.flatnonzero(bad)]
        exact = use & ~bad & ((n_unknown == 1) | (residual <= 1e-9))
        for i, j in np.argwhere(exact[:, None] & unknown):
            claim = float(residual[i]) if n_unknown[i] == 1 else 0.0
            fnd = Finding(res.attack, value.index[i] + (members[j],), "admin", claim)
            res.claims.append(fnd)
            if W[i, j] and claim == T[i, j]:
                res.hits.append(fnd)
        # (a total below the threshold says itself that every member is below it: not counted)
        narrow = use & ~bad & ~exact & (residual < threshold) & (total >= threshold) & (W & unknown).any(axis=1)
        for i in np.flatnonzero(narrow):
            res.narrow.append((value.index[i], [members[j] for j in np.flatnonzero(unknown[i])],
                               f"unknowns share {residual[i]:g} persons"))
    res.stats.update({"sets with a withheld count": n_sets,
                      "withheld counts": int(withheld[SEX + AGES].to_numpy().sum())})
    return res


def _ties(res: AttackResult, pub: Published, value, withheld, t, totals) -> None:
    """Totals missing from fct_service_provision read from mart_provision_per_capita (one delivered
    unit per current municipality): a withheld total recovered there is a hit; the per-capita figures
    equal the sum of the true totals (checked)."""
    pc = pub.tables.get("mart_provision_per_capita")
    if pc is None:
        return
    pc = pc[pc["n_source_units"] == 1]
    idx = value.index.to_frame(index=False)
    tie_rows = {"recipients_mandatory_services": sorted({r for r in idx["row_no"] if str(r).startswith("13.")}),
                **TIES}
    n = 0
    bad = []
    sets_of = idx.groupby(["municipality_code", "year"])["boundary_set"].unique().to_dict()
    present = set(totals.index)
    for r in pc.itertuples():
        for col, rows in tie_rows.items():
            figure = getattr(r, col)
            keys = [(r.municipality_code, b, int(r.year), row) for row in rows
                    for b in sets_of.get((r.municipality_code, int(r.year)), [])]
            keys = [k for k in keys if k in present]
            if figure is None or pd.isna(figure) or not keys:
                continue
            true_sum = np.nansum([t.at[k, "total"] for k in keys])
            n += 1
            if abs(true_sum - figure) > 1e-6:
                bad.append((r.municipality_code, int(r.year), col, figure, true_sum))
            missing = [k for k in keys if pd.isna(totals.get(k))]
            if len(missing) == 1:
                claim = figure - np.nansum([totals.get(k) for k in keys if k not in missing])
                k = missing[0]
                fnd = Finding(res.attack, k + ("total",), "admin", claim, f"from mart_provision_per_capita.{col}")
                res.claims.append(fnd)
                if withheld.at[k, "total"] and claim == t.at[k, "total"]:
                    res.hits.append(fnd)
                totals.at[k] = claim
    res.check_many("per-capita count = sum of the true totals (one source unit)", n, bad[:5] + [None] * max(0, len(bad) - 5))

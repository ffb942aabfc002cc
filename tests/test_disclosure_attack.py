"""An intruder attacks what is published; the warehouse scores what she found (issues 13 and 20).

The intruder model, the attacks and their results are in docs/disclosure_attacks.md; the machinery is
the package tests/disclosure/ (truth: what the warehouse knows; published: what the intruder reads;
one module per family of attacks; weak: weaker snapshots built here from the warehouse).

Every attack runs three times:
- on the published snapshot, where it must recover NOTHING (0 values, 0 ranges narrower than the
  documented protection);
- on a weak snapshot (`unprotected`, or `primary-only` where the attack needs something withheld to
  attack), where it must recover something: an attack that cannot succeed proves nothing;
- and every fact an attack relies on (a published figure's relation to the truth, an additive set,
  the documented method reproducing the published figure at the true values) is checked against the
  truth on every snapshot; a constraint the truth violates, or an infeasible or failed solve, fails
  the test ("protected" is never the default).

`TRUST_ATTACK_SNAPSHOT` / `TRUST_ATTACK_WAREHOUSE` point the attack at another build.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.disclosure import admin, equal_weights, intervals, lp, model, simple, weak
from tests.disclosure.published import load_published, rules
from tests.disclosure.truth import load_truth


@pytest.fixture(scope="module")
def attack_setup(request):
    """The published snapshot of the sample build (or of another build: TRUST_ATTACK_SNAPSHOT and
    TRUST_ATTACK_WAREHOUSE), what the intruder reads, and its warehouse, which scores her."""
    snap, wh = os.environ.get("TRUST_ATTACK_SNAPSHOT"), os.environ.get("TRUST_ATTACK_WAREHOUSE")
    if snap and wh:
        snapshot, warehouse = Path(snap), Path(wh)
    else:
        build = request.getfixturevalue("sample_build")
        snapshot, warehouse = build.paths.published_path, build.paths.warehouse_path
    return load_published(snapshot), load_truth(warehouse), rules(), warehouse


@pytest.fixture(scope="module")
def warehouse_tables(attack_setup):
    return weak.read_warehouse(attack_setup[3])


@pytest.fixture(scope="module")
def weak_snapshots(attack_setup, warehouse_tables):
    pub, _, _, warehouse = attack_setup
    return {"unprotected": weak.unprotected(warehouse, pub, warehouse_tables),
            "primary-only": weak.primary_only(warehouse, pub, warehouse_tables)}


def sound(res) -> None:
    """Every constraint the attack used holds for the truth, and no solve failed."""
    assert not res.false_constraints(), res.report()
    assert not res.failures, res.report()


def recovers_nothing(res) -> None:
    sound(res)
    assert res.checks, f"{res.attack}: no constraint was checked against the truth"
    assert not res.hits, res.report()
    assert not res.narrow, res.report()


def recovers_something(res) -> None:
    sound(res)
    assert res.hits, f"{res.attack} recovers nothing even on the {res.snapshot} snapshot:\n{res.report()}"


# --- A1 equal-weight inversion (raked wave) ------------------------------------------------------

def test_a1_equal_weight_inversion_recovers_nothing(attack_setup):
    pub, truth, r, _ = attack_setup
    res = equal_weights.attack_equal_weights(pub, truth, r)
    assert res.stats["municipal cells attacked"] > 0
    recovers_nothing(res)


@pytest.mark.parametrize("snapshot", ["unprotected", "primary-only"])
def test_a1_equal_weight_inversion_succeeds_on_weak_snapshots(attack_setup, weak_snapshots, snapshot):
    _, truth, r, _ = attack_setup
    recovers_something(equal_weights.attack_equal_weights(weak_snapshots[snapshot], truth, r))


# --- A2 model-error inversion (small-area figures) ------------------------------------------------

@pytest.mark.e2e
def test_a2_model_error_inversion_recovers_no_effective_n(attack_setup, warehouse_tables):
    pub, truth, _, _ = attack_setup
    recovers_nothing(model.attack_model_error(pub, truth, warehouse_tables))


def test_a2_model_error_inversion_succeeds_on_exact_eblup(attack_setup, weak_snapshots, warehouse_tables):
    _, truth, _, _ = attack_setup
    # two waves are enough to show it (each wave is a least-squares fit of the model)
    recovers_something(model.attack_model_error(weak_snapshots["primary-only"], truth, warehouse_tables,
                                                waves=[2024, 2025]))


# --- A3 linked tables (linear programs) -----------------------------------------------------------

@pytest.mark.e2e
def test_a3_linked_tables_lp_leaves_every_withheld_count_a_wide_range(attack_setup):
    pub, truth, r, _ = attack_setup
    recovers_nothing(lp.lp_count_ranges(pub, truth, r["protection_min_count_range"],
                                        four_from=r["full_measures_min_n"]))


@pytest.mark.e2e
def test_a3_lp_leaves_every_withheld_share_a_wide_range(attack_setup):
    pub, truth, r, _ = attack_setup
    recovers_nothing(lp.lp_share_ranges(pub, truth, r["protection_min_share_range"],
                                        four_from=r["full_measures_min_n"], min_n=r["min_unweighted_n"]))


def test_a3_lp_succeeds_without_complementary_suppression(attack_setup, weak_snapshots):
    _, truth, r, _ = attack_setup
    weak_pub = weak_snapshots["primary-only"]
    counts = lp.lp_count_ranges(weak_pub, truth, r["protection_min_count_range"], stop_after=10)
    recovers_something(counts)
    shares = lp.lp_share_ranges(weak_pub, truth, r["protection_min_share_range"], min_n=r["min_unweighted_n"],
                                stop_after=10)
    sound(shares)
    assert shares.narrow, shares.report()


# --- A4 differencing of counts, A5 group disclosure ----------------------------------------------

def test_a4_differencing_of_counts_recovers_nothing(attack_setup):
    pub, truth, _, _ = attack_setup
    recovers_nothing(simple.attack_differencing(pub, truth))


def test_a4_differencing_succeeds_on_exact_counts(attack_setup, weak_snapshots):
    _, truth, _, _ = attack_setup
    recovers_something(simple.attack_differencing(weak_snapshots["unprotected"], truth))


def test_a5_no_group_is_disclosed(attack_setup):
    pub, truth, _, _ = attack_setup
    recovers_nothing(simple.attack_group(pub, truth))


def test_a5_group_disclosure_succeeds_without_suppression(attack_setup, weak_snapshots):
    _, truth, _, _ = attack_setup
    recovers_something(simple.attack_group(weak_snapshots["unprotected"], truth))


# --- A6 sibling measures --------------------------------------------------------------------------

def test_a6_sibling_measures_give_nothing_away(attack_setup):
    pub, truth, r, _ = attack_setup
    recovers_nothing(simple.attack_siblings(pub, truth, r))


def test_a6_sibling_measures_succeed_on_measure_level_withholding(attack_setup, weak_snapshots):
    _, truth, r, _ = attack_setup
    res = simple.attack_siblings(weak_snapshots["primary-only"], truth, r)
    recovers_something(res)
    assert any(f.what == "share" for f in res.hits), res.report()  # a withheld share itself, not only the pattern


# --- A7 exact counts and weight sums in any table -------------------------------------------------

def test_a7_no_table_publishes_exact_counts_or_weight_sums(attack_setup):
    pub, truth, _, _ = attack_setup
    res = simple.attack_exact_counts(pub, truth)
    recovers_nothing(res)
    # the one exception decided: the whole wave's sample size (public in every survey report)
    assert res.stats["public by decision"].startswith("dim_wave.n_respondents_delivered"), res.stats


def test_a7_finds_exact_counts_and_weight_sums_where_published(attack_setup, weak_snapshots):
    _, truth, _, _ = attack_setup
    res = simple.attack_exact_counts(weak_snapshots["unprotected"], truth)
    recovers_something(res)
    flagged = {f.key[:2] for f in res.hits}
    assert {("mart_client_satisfaction", "n_unweighted"), ("mart_client_satisfaction", "sum_of_weights"),
            ("mart_indicator_estimates", "n_unweighted")} <= flagged, flagged


# --- A8 interval inversion to the effective n -----------------------------------------------------

def test_a8_intervals_do_not_pin_the_effective_n(attack_setup):
    pub, truth, _, _ = attack_setup
    res = intervals.attack_interval_inversion(pub, truth)
    assert res.stats["own-interval rows"] > 0 and res.stats["band-based rows"] > 0, res.stats
    recovers_nothing(res)


def test_a8_interval_inversion_succeeds_on_exact_small_cell_intervals(attack_setup, weak_snapshots):
    _, truth, _, _ = attack_setup
    # the small municipal cells of one wave are enough to show it (every cell would take minutes)
    res = intervals.attack_interval_inversion(weak_snapshots["unprotected"], truth, measures=["share_incl_hard_to_say"],
                                              max_band_high=99, waves=[2024], refine_narrow=False)
    recovers_something(res)


# --- A9 administrative differencing ---------------------------------------------------------------

def test_a9_admin_differencing_recovers_no_withheld_count(attack_setup):
    pub, truth, r, _ = attack_setup
    res = admin.attack_admin_differencing(pub, truth, int(r["admin_min_person_count"]))
    assert res.stats["sets with a withheld count"] > 0
    recovers_nothing(res)


def test_a9_admin_differencing_succeeds_without_secondary_suppression(attack_setup, weak_snapshots):
    _, truth, r, _ = attack_setup
    recovers_something(admin.attack_admin_differencing(weak_snapshots["primary-only"], truth,
                                                       int(r["admin_min_person_count"])))

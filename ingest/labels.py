"""Text labels as delivered ("Drīzāk uzticos", "Vīrietis", "Jā", a status "pabeigta"): how a delivered
label is matched to a codebook's label. One rule for answers, attributes and the firm's row status.

Matching is exact after two normalisations: Unicode NFC (a letter typed as a base letter plus a
combining mark is the same letter) and whitespace (leading and trailing spaces dropped, every run of
spaces, tabs, no-break or thin spaces inside written as one space). Letter case counts unless the
codebook says `labels_ignore_case: true` (for the wave) or `ignore_case: true` (for one variable);
then labels are compared case-folded.
"""
from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"[\s\u00a0\u2007\u2009\u202f\u200b\ufeff]+")


def normalise_label(text) -> str:
    """A label as it is compared: NFC, whitespace trimmed and collapsed (case kept)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", str(text))).strip()


def label_key(text, ignore_case: bool) -> str:
    """What two labels are compared by."""
    norm = normalise_label(text)
    return norm.casefold() if ignore_case else norm


__all__ = ["normalise_label", "label_key"]

"""The trust check's three verdicts in words, for every page that shows a heatmap (and the Home page, which
must stay light: nothing here imports torch)."""
from __future__ import annotations

TRUST_LOOK = {"faithful": ":green[:material/verified:]", "partial": ":orange[:material/warning:]",
              "weak": ":red[:material/error:]"}
TRUST_WORDS = {"faithful": "Faithful", "partial": "Partly faithful", "weak": "Weak"}
# One sentence per verdict that a teacher can say to a class as it is (beside each trust note, and in the
# pages' help).
TRUST_FOR_CLASS = {
    "faithful": "Cover the coloured parts and the model changes its answer, so they really are what it "
                "looked at.",
    "partial": "The coloured parts matter, but the model also used other parts of the face.",
    "weak": "Covering the coloured parts changes the answer no more than covering the middle of the face, so "
            "this map does not show what the model looked at.",
}


def trust_help() -> str:
    """The three verdicts in a class's words, one indented list item each, for the pages' help."""
    return "\n".join(f"  - *{TRUST_WORDS[v]}*: {TRUST_FOR_CLASS[v]}" for v in TRUST_FOR_CLASS)

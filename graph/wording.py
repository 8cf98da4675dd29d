"""Numbers and counts written for people: plurals, SMS levels, shares and scores.

The analytics keep exact values (the JSON answers carry them); what a person reads
(the explanations of verdicts, the command line's tables) goes through these, so that
nobody reads "1 evaluation(s)", "SMS level 0" or 0.420513.
"""

from __future__ import annotations

#: Plurals that do not just add an "s".
_IRREGULAR = {"study": "studies", "repeat": "repeats", "watch": "watches",
              "re-try": "re-tries", "retry": "retries", "analysis": "analyses"}


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,200 sites`` (``many``: the plural when irregular)."""
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {many or _IRREGULAR.get(word) or word + 's'}"


def level(value: int | None) -> str:
    """A Maryland SMS level, or that there is none (never "level 0")."""
    return f"SMS level {value}" if value else "no strength level"


def percent(share: float | None, digits: int = 1) -> str:
    """0.420513 → ``42.1%``."""
    if share is None:
        return ""
    return f"{share * 100:.{digits}f}%"


def number(value: float | int | None, digits: int = 2) -> str:
    """A measured value, at most ``digits`` decimals, thousands separated: ``1,234.5``."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def change(relative: float | None) -> str:
    """A relative change signed by the outcome's direction (positive: it improved), as
    people say it: ``42.1% better``, ``5.0% worse``, ``no change``."""
    if relative is None:
        return ""
    if relative == 0:
        return "no change"
    return f"{percent(abs(relative))} {'better' if relative > 0 else 'worse'}"


def days(count: int) -> str:
    return plural(count, "day")


#: Evaluation designs as people name them: the ontology's ``skos:prefLabel`` of each
#: notation (tests/test_cli_answers.py checks that they agree).
DESIGNS = {
    "systematic_review": "Systematic review",
    "rct": "Randomised controlled trial",
    "cluster_rct": "Cluster randomised controlled trial",
    "stepped_wedge": "Stepped-wedge trial",
    "regression_discontinuity": "Regression discontinuity",
    "matched_comparison": "Matched comparison",
    "non_randomised_trial": "Non-randomised controlled trial",
    "difference_in_differences": "Difference in differences",
    "interrupted_time_series": "Interrupted time series",
    "controlled_before_after": "Controlled before-and-after study",
    "before_after": "Before-and-after study",
    "cross_sectional": "Cross-sectional study",
    "economic": "Economic evaluation",
    "mixed_methods": "Mixed-methods study",
    "qualitative": "Qualitative study",
    "case_study": "Case study",
}


def design(value: str | None) -> str:
    """``cluster_rct`` → ``cluster randomised controlled trial``."""
    if not value:
        return "design not recorded"
    label = DESIGNS.get(value, value.replace("_", " "))
    return label[0].lower() + label[1:]

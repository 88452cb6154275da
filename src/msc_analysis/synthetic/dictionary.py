"""The data dictionary of the synthetic study, generated from the declared schemas.

``data/synthetic/README.md`` embeds :func:`data_dictionary_markdown`'s text between the markers
``<!-- dictionary:start -->`` and ``<!-- dictionary:end -->``; a test checks that the two are
identical, so the README cannot drift from :mod:`msc_analysis.io.schema`.
"""

from __future__ import annotations

from msc_analysis.io.schema import (
    LAB_PARAMETERS,
    SCHEMAS,
    SCREENING_LOG,
    VS_PARAMETERS,
    DatasetSchema,
    Variable,
)

START_MARKER = "<!-- dictionary:start -->"
END_MARKER = "<!-- dictionary:end -->"


def _allowed(var: Variable) -> str:
    parts: list[str] = []
    if var.allowed is not None:
        parts.append(", ".join(f"`{a}`" if a else "blank" for a in var.allowed))
    if var.minimum is not None or var.maximum is not None:
        lo = "" if var.minimum is None else f"{var.minimum:g}"
        hi = "" if var.maximum is None else f"{var.maximum:g}"
        parts.append(f"{lo} to {hi}")
    if var.strictly_positive:
        parts.append("> 0")
    return "; ".join(parts)


def dataset_table(schema: DatasetSchema) -> str:
    """Markdown table of one dataset: variable, type, label, unit, allowed values, key."""
    lines = [
        f"### {schema.name}: {schema.label}",
        "",
        f"Keys: {', '.join(schema.keys)}.",
        "",
        "| Variable | Type | Label | Unit | Allowed values | Key |",
        "|---|---|---|---|---|---|",
    ]
    for var in schema.variables:
        key = "yes" if var.name in schema.keys else ""
        lines.append(f"| {var.name} | {var.type} | {var.label} | {var.unit or ''} | "
                     f"{_allowed(var)} | {key} |")
    return "\n".join(lines)


def _parameter_table(title: str, params: dict[str, tuple[str, str]]) -> str:
    lines = [f"### {title}", "", "| PARAMCD | PARAM | Unit (AVALU) |", "|---|---|---|"]
    lines += [f"| {code} | {label} | {unit} |" for code, (label, unit) in params.items()]
    return "\n".join(lines)


def data_dictionary_markdown() -> str:
    """The data dictionary of every dataset (and parameter list) as Markdown text."""
    blocks = [dataset_table(s) for s in SCHEMAS.values()]
    blocks.append(dataset_table(SCREENING_LOG))
    blocks.append(_parameter_table("Laboratory parameters (ADLB)", LAB_PARAMETERS))
    blocks.append(_parameter_table("Vital-sign parameters (ADVS)", VS_PARAMETERS))
    return "\n\n".join(blocks) + "\n"


def embedded_dictionary(readme_text: str) -> str:
    """The text between the dictionary markers of a README ("" when absent)."""
    if START_MARKER not in readme_text or END_MARKER not in readme_text:
        return ""
    inner = readme_text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    return inner.strip("\n") + "\n"

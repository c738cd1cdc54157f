"""Pure rendering of docs/PERFORMANCE.md from what each benchmark printed and returned."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    """One benchmark's results: its printed table (figures beside their same-run baseline) and any
    structured rows it returned as (what, value, baseline)."""
    name: str
    printed: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    error: str = ""


def render(machine: str, when: str, sections: list[Section], gaps: list[str]) -> str:
    lines = ["# Performance", "", f"Measured by `make bench` on {when}: {machine}.",
             "Every figure sits beside a baseline measured in the same run on the same machine; the machine",
             "is shared, so compare a figure with its own baseline, not with another run's.", ""]
    for section in sections:
        lines += [f"## {section.name}", ""]
        if section.rows:
            lines += ["| what | Replydesk | baseline |", "|---|---|---|"]
            lines += [f"| {what} | {value} | {baseline} |" for what, value, baseline in section.rows]
            lines.append("")
        if section.error:
            lines += [f"Not measured in this run: {section.error}", ""]
        if section.printed.strip():
            lines += ["```", section.printed.strip("\n"), "```", ""]
    if gaps:
        lines += ["## Not measured", ""] + [f"- {gap}" for gap in gaps] + [""]
    return "\n".join(lines)

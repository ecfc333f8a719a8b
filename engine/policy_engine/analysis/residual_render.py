"""Residual rendering: partial evaluation's answer as text (terminal), Markdown or JSON.

Like the renderers of decisions (`explain.render`), each is a pure function of its input, so
the same policy and facts always give byte-identical output. A decided answer is shown with
the decision's own explanation, rendered by `explain.render`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from policy_engine.analysis.residual import Influence, Residual, ValueGroup, WitnessPair
from policy_engine.explain.render import (
    Report,
    markdown_code,
    markdown_text,
    render_markdown,
    render_text,
)


@dataclass(frozen=True)
class ResidualReport:
    """One residual as the renderers show it: with the scenario it answers (its path and
    description, when it comes from a scenario file) and how it compares with its `expect`."""

    residual: Residual
    scenario: str | None = None
    description: str | None = None
    mismatches: tuple[str, ...] = ()
    expected: bool = False

    @property
    def met(self) -> bool:
        return not self.mismatches


def show(value: object) -> str:
    """A raw fact value as the text renderers show it (yes/no, exact amounts, ISO dates)."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def facts_line(facts: Mapping[str, Any], absent: Sequence[str] = ()) -> str:
    parts = [f"{name} = {show(value)}" for name, value in facts.items()]
    parts += [f"{name} left out" for name in absent]
    return ", ".join(parts) if parts else "(none)"


def outcome_names(residual: Residual) -> list[str]:
    """How each possible outcome is named: its decision, with the rule when two outcomes
    share the decision."""
    decisions = [o.decision for o in residual.outcomes if o.kind == "decision"]
    names: list[str] = []
    for outcome in residual.outcomes:
        if outcome.kind == "decision":
            names.append(str(outcome.decision) if decisions.count(outcome.decision) == 1
                         else f"{outcome.decision} (rule {outcome.rule})")
        else:
            names.append(outcome.describe())
    return names


def group_line(group: ValueGroup, names: Sequence[str]) -> str:
    """`when ...: outcomes` for one group of values of a fact."""
    when = " or ".join("any value" if text == "any facts" else text for text in group.when)
    if group.refused:
        leads = "refused (" + ", ".join(group.refused) + ")"
    else:
        shown = [names[i] for i in group.outcomes]
        shown += [f"{names[i]} (not confirmed)" for i in group.unconfirmed]
        leads = _or(shown)
    return f"{when} -> {leads}"


def _or(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def pair_line(fact: str, pair: WitnessPair, names: Sequence[str],
              default: object = None) -> str:
    def value(facts: Mapping[str, Any]) -> str:
        if fact in facts:
            return f"{fact} = {show(facts[fact])}"
        if default is not None:
            return f"{fact} = {show(default)} (its default)"
        return f"{fact} left out"

    a, b = value(pair.first), value(pair.second)
    if pair.only_this_fact:
        return (f"for example, {a} gives {names[pair.first_outcome]} and {b} gives "
                f"{names[pair.second_outcome]}, nothing else changed")
    others = sorted(set(pair.first) ^ set(pair.second)
                    | {k for k in pair.first if k in pair.second
                       and pair.first[k] != pair.second[k]})
    others = [k for k in others if k != fact]
    also = f" (the constraints also change {', '.join(others)})" if others else ""
    return (f"for example, {a} gives {names[pair.first_outcome]} and {b} gives "
            f"{names[pair.second_outcome]}{also}")


def _influence_lines(residual: Residual, influence: Influence, names: Sequence[str],
                     indent: str) -> list[str]:
    title = f' "{influence.title}"' if influence.title else ""
    lines = [f"{indent}{influence.fact}{title}: {influence.expected}"]
    lines += [f"{indent}  {group_line(group, names)}" for group in influence.values]
    if influence.pair is not None:
        default = residual.policy.fact(influence.fact).default
        lines.append(f"{indent}  {pair_line(influence.fact, influence.pair, names, default)}")
    return lines


# ---------------------------------------------------------------- text


def render_residual_text(reports: Sequence[ResidualReport]) -> str:
    """Residuals for a terminal; one block each, separated by a blank line."""
    return "\n".join(_text_one(report) for report in reports)


def _header(report: ResidualReport) -> list[str]:
    residual = report.residual
    lines = [f"scenario: {report.scenario}"] if report.scenario is not None else []
    if report.description:
        lines.append(f"  {report.description}")
    policy = residual.policy
    version = f" {policy.version}" if policy.version else ""
    lines.append(f"policy:   {policy.name}{version} ({policy.source.name})")
    lines.append(f"known:    {facts_line(residual.known.raw, sorted(residual.known.absent))}")
    return lines


def _expect_lines(report: ResidualReport) -> list[str]:
    if not report.expected:
        return []
    lines = ["", "expect:   met" if report.met else "expect:   NOT MET"]
    return lines + [f"  {mismatch}" for mismatch in report.mismatches]


def _text_one(report: ResidualReport) -> str:
    residual = report.residual
    lines = _header(report)
    names = outcome_names(residual)
    if residual.decided:
        lines += _text_decided(residual, names)
    else:
        lines += _text_undecided(residual, names)
    if residual.given_irrelevant:
        lines += ["", "facts given that do not matter: " + ", ".join(residual.given_irrelevant)]
    lines += _expect_lines(report)
    if residual.decided and residual.decision is not None:
        lines += ["", _assumed_words(residual), ""]
        lines.append(render_text([Report(residual.decision)]).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _assumed_words(residual: Residual) -> str:
    if not residual.assumed:
        return "the explanation:"
    return ("the explanation, with the facts not given filled in (other allowed values give the "
            "same decision): " + facts_line(residual.assumed))


def _text_decided(residual: Residual, names: Sequence[str]) -> list[str]:
    lines = ["", f"decided:  {_decided_words(residual, names)}"]
    if residual.did_not_matter:
        lines.append("  whatever the facts not given are; none of them changes it: "
                     + ", ".join(residual.did_not_matter))
    for output in residual.open_outputs:
        what = (f"advisory {output.advisory} (adds to {output.output})" if output.advisory
                else f"output {output.output}")
        lines.append(f"  still open: {what} depends on " + ", ".join(output.facts))
    if residual.next_question is not None:
        lines += ["", *_question_lines(residual, names)]
    return lines


def _decided_words(residual: Residual, names: Sequence[str]) -> str:
    decision = residual.decision
    if decision is not None and decision.refused:
        labels = ", ".join(dict.fromkeys(d.label or d.code for d in decision.refusal))
        return f"refused ({labels}), whatever the facts not given are"
    return names[0] if names else "?"


def _text_undecided(residual: Residual, names: Sequence[str]) -> list[str]:
    count = len(residual.outcomes)
    lines = ["", f"undecided: {count} outcome{'s' if count != 1 else ''} still possible"]
    for number, (outcome, name) in enumerate(zip(residual.outcomes, names, strict=True)):
        note = "" if outcome.confirmed else "   (not confirmed: no example found)"
        rule = f" (rule {outcome.rule})" if outcome.kind == "decision" and "(rule" not in name \
            else ""
        lines.append(f"  {number + 1}. {name}{rule}{note}")
    if residual.next_question is not None:
        lines += ["", *_question_lines(residual, names)]
    elif residual.ranking:
        lines += ["", f"next question: none, {residual.ranking}"]
    if residual.matters:
        lines += ["", "facts that still matter:"]
        for influence in residual.matters:
            lines += _influence_lines(residual, influence, names, "  ")
    if residual.may_matter:
        lines += ["", "facts that may matter (the analysis found no example that shows it):"]
        for influence in residual.may_matter:
            lines += _influence_lines(residual, influence, names, "  ")
    if residual.did_not_matter:
        lines += ["", "facts not given that do not matter on their own: "
                  + ", ".join(residual.did_not_matter)]
    if residual.approximate:
        lines += ["", "approximate:"]
        lines += [f"  {note}" for note in residual.approximate]
    return lines


def _question_lines(residual: Residual, names: Sequence[str]) -> list[str]:
    question = residual.next_question
    assert question is not None
    title = f' "{question.title}"' if question.title else ""
    optional = "; it may be left out" if question.optional else ""
    why = "" if question.purpose == "decide" else " (the decision is certain; this completes it)"
    lines = [f"next question: {question.fact}{title}{why}",
             f"  expected: {question.expected}{optional}"]
    if residual.candidates:
        best = residual.candidates[0]
        lines.append(f"  about {best.expected_questions:.2f} questions to a decision from here"
                     f"; ranked by {residual.ranking}")
        others = [f"{c.fact} ({c.expected_questions:.2f})" for c in residual.candidates[1:]]
        if others:
            lines.append("  next best: " + ", ".join(others))
    elif residual.ranking:
        lines.append(f"  chosen as {residual.ranking}")
    return lines


# ---------------------------------------------------------------- Markdown


def render_residual_markdown(reports: Sequence[ResidualReport]) -> str:
    """Residuals for a pull request or a support ticket."""
    return "\n".join(_md_one(report) for report in reports)


def _md_one(report: ResidualReport) -> str:
    residual = report.residual
    md, code = markdown_text, markdown_code
    names = outcome_names(residual)
    where = f"{md(report.scenario)}: " if report.scenario is not None else ""
    status = (f"decided: {md(_decided_words(residual, names))}" if residual.decided
              else f"undecided, {len(residual.outcomes)} outcomes possible")
    out = [f"## {where}{status}", ""]
    if report.description:
        out += [f"> {md(report.description)}", ""]
    policy = residual.policy
    out += ["| | |", "|---|---|",
            f"| Policy | {md(policy.name)} {md(policy.version or '')} ({md(policy.source.name)}) |",
            f"| Known | {md(facts_line(residual.known.raw, sorted(residual.known.absent)))} |"]
    if residual.given_irrelevant:
        out.append(f"| Given, does not matter | {md(', '.join(residual.given_irrelevant))} |")
    if residual.did_not_matter:
        out.append(f"| Not given, does not matter | {md(', '.join(residual.did_not_matter))} |")
    if report.expected:
        verdict = "met" if report.met else "**not met**: " + "; ".join(
            md(m) for m in report.mismatches)
        out.append(f"| Expectation | {verdict} |")
    out.append("")
    if not residual.decided:
        out += ["### Possible outcomes", "", "| # | Outcome | Shown by an example |",
                "|---|---|---|"]
        for number, (outcome, name) in enumerate(zip(residual.outcomes, names, strict=True)):
            out.append(f"| {number + 1} | {code(name)} | {'yes' if outcome.confirmed else 'no'} |")
        out.append("")
    for output in residual.open_outputs:
        what = (f"advisory {code(output.advisory)}" if output.advisory
                else f"output {code(output.output)}")
        out.append(f"- Still open: {what} depends on {md(', '.join(output.facts))}")
    if residual.open_outputs:
        out.append("")
    if residual.next_question is not None:
        question = residual.next_question
        out += ["### Next question", "",
                f"{code(question.fact)}: {md(question.title or '')} ({md(question.expected)})",
                ""]
        if residual.ranking:
            out += [f"Ranked by {md(residual.ranking)}.", ""]
        if residual.candidates:
            out += ["| Question | Expected questions | Outcomes left |", "|---|---|---|"]
            out += [f"| {code(c.fact)} | {c.expected_questions:.2f} | {c.outcomes_left:.2f} |"
                    for c in residual.candidates]
            out.append("")
    for heading, influences in (("Facts that still matter", residual.matters),
                                ("Facts that may matter (not shown by an example)",
                                 residual.may_matter)):
        if not influences:
            continue
        out += [f"### {heading}", "", "| Fact | Values | Lead to |", "|---|---|---|"]
        for influence in influences:
            for group in influence.values:
                line = group_line(group, names)
                when, _, leads = line.partition(" -> ")
                out.append(f"| {code(influence.fact)} | {md(when)} | {md(leads)} |")
        out.append("")
    if residual.approximate:
        out += ["### Approximate", ""] + [f"- {md(note)}" for note in residual.approximate]
        out.append("")
    if residual.decided and residual.decision is not None:
        out += ["### Explanation", "", md(_assumed_words(residual)), ""]
        out.append(render_markdown([Report(residual.decision)]).rstrip("\n"))
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- JSON


def residual_json(report: ResidualReport) -> dict[str, Any]:
    """The documented JSON form, with the scenario and how it compares with its `expect`."""
    data = report.residual.to_json()
    head = {"format": data.pop("format"), "format_version": data.pop("format_version"),
            "scenario": report.scenario, "description": report.description}
    head.update(data)
    head["expect"] = ({"met": report.met, "mismatches": list(report.mismatches)}
                      if report.expected else None)
    return head


def render_residual_json(reports: Sequence[ResidualReport]) -> str:
    """A JSON array with one object per scenario, however many there are, so a reader
    never has to guess the shape."""
    data = [residual_json(report) for report in reports]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


RESIDUAL_RENDERERS: dict[str, Callable[[Sequence[ResidualReport]], str]] = {
    "text": render_residual_text,
    "json": render_residual_json,
    "markdown": render_residual_markdown,
}

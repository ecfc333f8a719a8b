"""Markdown for pull requests carries no HTML from policies or scenarios, and no broken fences.

A policy's titles, reasons and values, a scenario's description and a fact's value all land in
the Markdown that `policy eval --format markdown` and `policy diff --format markdown` print
for pull-request comments. Text that looks like HTML (`<img>`, `</table>`, `<!--`) or like a
fence must stay text: the rendered HTML (by a CommonMark renderer with tables, as GitHub's)
holds no element the input wrote.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from policy_engine.explain.render import markdown_code, markdown_fence, render_markdown
from policy_engine.policy import Policy
from policy_engine.scenarios.diff import diff_policies
from policy_engine.scenarios.diff_report import render_diff_markdown
from policy_engine.scenarios.runner import run_scenario

HOSTILE = '</td></table></details><img src=x onerror=alert(1)><b>bold</b><!-- & &amp;'

POLICY = f'''policy hostile "Title {HOSTILE}"
fact note "Note {HOSTILE}": text
fact n: whole number
decision yes_ "Yes {HOSTILE}"
decision no_
output said: text
rule r "Rule {HOSTILE}" when n > 1 and note != "x" then yes_ with said = note
  because "Because {HOSTILE} ```"
  source "Source {HOSTILE}"
otherwise no_ because "no"
'''


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.comments = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_comment(self, data: str) -> None:
        self.comments += 1


def _html_tags(markdown: str) -> _Tags:
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    parser = _Tags()
    parser.feed(html)
    return parser


def _folder(tmp_path: Path, description: str) -> Path:
    (tmp_path / "hostile.policy").write_text(POLICY, encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f'description: "{description}"\npolicy: hostile.policy\n'
                        f'facts:\n  n: 5\n  note: "{HOSTILE}"\n', encoding="utf-8")
    return scenario


def test_eval_markdown_holds_no_html_from_the_policy_or_the_scenario(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = _folder(tmp_path, HOSTILE)
    markdown = render_markdown([run_scenario(scenario.name).report()])
    found = _html_tags(markdown)
    assert not {"img", "b", "details"} & set(found.tags), found.tags
    assert found.comments == 0


def test_a_refusal_block_cannot_be_closed_by_its_content(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hostile.policy").write_text(POLICY, encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f'policy: hostile.policy\nfacts:\n  n: "```\\n{HOSTILE}"\n'
                        "expect:\n  error: E304\n", encoding="utf-8")
    markdown = render_markdown([run_scenario(scenario.name).report()])
    found = _html_tags(markdown)
    assert not {"img", "b", "details"} & set(found.tags), found.tags


def test_diff_markdown_holds_no_html_from_scenario_names(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = "<img src=x onerror=alert(1)>`evil` &amp; <b>x.yaml"
    (scenarios / name).write_text("policy: ../hostile.policy\nfacts: {n: 5, note: y}\n",
                                  encoding="utf-8")
    (tmp_path / "hostile.policy").write_text(POLICY, encoding="utf-8")
    old = Policy.load(str(tmp_path / "hostile.policy"))
    new = Policy.from_text(POLICY.replace("n > 1", "n > 9"), "hostile.policy")
    markdown = render_diff_markdown(diff_policies(old, new, [str(scenarios)]))
    found = _html_tags(markdown)
    assert "img" not in found.tags and found.tags.count("details") == 1


@pytest.mark.parametrize("text", ["plain", "one ` tick", "two `` ticks", "```", "a|b"])
def test_code_spans_and_fences_survive_backticks(text: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    span = markdown_it.MarkdownIt("commonmark").render(markdown_code(text))
    assert span.count("<code>") == 1
    fenced = markdown_it.MarkdownIt("commonmark").render("\n".join(markdown_fence(text)))
    assert fenced.count("<pre>") == 1

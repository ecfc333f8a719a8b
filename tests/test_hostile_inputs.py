"""Review commands are safe on hostile pull requests: nothing is spoofed, hangs or leaks.

Policies and scenarios arrive in pull requests from people the reviewer does not control, and
`policy test`, `check`, `diff` and `fmt` run on them in CI. Each case here is one way a pull
request could make a run lie, hang, print a secret or write outside the checkout; each must be
refused with a diagnostic, quickly (the subprocess timeouts are hang guards), and without
showing the content of a file that is not a policy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers.cli import Run, invoker
from tests.helpers.paths import ROOT

LATE = ROOT / "policies" / "examples" / "late_delivery.policy"
SECRET = "https://user:ghp_SECRETSECRETSECRET@github.com"


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=folder,
                   check=True, capture_output=True, timeout=60)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with one committed policy and a secret beside it, outside git."""
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    shutil.copyfile(LATE, repo / "policies" / "late_delivery.policy")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "policy")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".git-credentials").write_text(SECRET + "\n")
    return repo


@pytest.fixture
def run(repository: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(repository, monkeypatch)


def _no_secret(result: Result) -> None:
    assert "SECRET" not in result.output


# ---------------------------------------------------------------- diff: revisions and paths


def test_a_folder_named_like_a_revision_cannot_stand_in_for_it(repository: Path,
                                                               run: Run) -> None:
    # The trial: a folder 'HEAD:policies' with a copy of the policy made `policy diff
    # HEAD:policies/late_delivery.policy ...` compare the copy, reporting "0 changed".
    spoof = repository / "HEAD:policies"
    spoof.mkdir()
    shutil.copyfile(LATE, spoof / "late_delivery.policy")
    changed = repository / "policies" / "late_delivery.policy"
    changed.write_text(changed.read_text().replace("days_late >= 1", "days_late >= 2"))
    for extra in ([], ["--symbolic", "--fail-on-change"]):
        result = run("diff", *extra, "HEAD:policies/late_delivery.policy",
                     "policies/late_delivery.policy")
        assert result.exit_code == 2, result.output
        assert "error[E311]" in result.output and "is both a file and the git revision" \
            in result.output
    # ./ says which is meant: the file, here equal to the committed policy, so a change shows.
    (repository / "policies" / "scenarios").mkdir()
    (repository / "policies" / "scenarios" / "late.yaml").write_text(
        "policy: ../late_delivery.policy\nfacts:\n  shipping: express\n  days_late: 1\n"
        "  amount_paid: 10\n", encoding="utf-8")
    result = run("diff", "./HEAD:policies/late_delivery.policy",
                 "policies/late_delivery.policy")
    assert result.exit_code == 0, result.output
    assert "changed: policies/scenarios/late.yaml (refusal)" in result.output


def test_a_revision_is_read_from_git_when_no_file_has_its_name(repository: Path,
                                                               run: Run) -> None:
    changed = repository / "policies" / "late_delivery.policy"
    changed.write_text(changed.read_text().replace("days_late >= 1", "days_late >= 2"))
    result = run("diff", "--symbolic", "--fail-on-change", "HEAD:policies/late_delivery.policy",
                 "policies/late_delivery.policy")
    assert result.exit_code == 1, result.output  # the real change is seen


def test_nothing_reaches_git_as_an_option(repository: Path, run: Run) -> None:
    result = run("diff", "--", "--output=x:y", "policies/late_delivery.policy")
    assert result.exit_code == 2, result.output
    assert "error[E311]" in result.output and "neither a file nor a revision" in result.output
    assert not (repository / "x:y").exists() and not (repository / "x").exists()


# ---------------------------------------------------------------- scenarios that read elsewhere


def _scenario(folder: Path, name: str, policy: str) -> Path:
    path = folder / name
    path.write_text(f"policy: {policy}\nfacts: {{days_late: 1}}\n")
    return path


@pytest.mark.parametrize("named", ["/dev/stdout", "/dev/zero", "/proc/self/environ"])
def test_a_scenario_naming_a_device_is_refused_without_reading_it(repository: Path, run: Run,
                                                                  named: str) -> None:
    _scenario(repository / "policies", "evil.yaml", named)
    result = run("test", "policies")
    assert result.exit_code == 2, result.output
    assert "error[E301]" in result.output and "not a policy file" in result.output


def test_a_scenario_naming_a_secret_never_prints_it(repository: Path, run: Run) -> None:
    secret = repository.parent / "home" / ".git-credentials"
    _scenario(repository / "policies", "evil.yaml", str(secret))
    result = run("test", "policies")
    assert result.exit_code == 2
    assert "not a policy file" in result.output
    _no_secret(result)


def test_a_scenario_naming_a_policy_outside_the_repository_is_refused(
        repository: Path, run: Run) -> None:
    outside = repository.parent / "home" / "stolen.policy"
    outside.write_text(SECRET + "\n")
    for policy in (str(outside), "../../home/stolen.policy"):
        _scenario(repository / "policies", "evil.yaml", policy)
        result = run("test", "policies")
        assert result.exit_code == 2, result.output
        assert "error[E310]" in result.output and "is outside" in result.output
        _no_secret(result)
    result = run("--allow-outside", "test", "policies")  # the explicit way to allow it
    assert "error[E310]" not in result.output


def test_a_policy_link_to_a_file_that_is_no_policy_never_prints_it(repository: Path,
                                                                   run: Run) -> None:
    (repository / ".env").write_text(f"# settings\nTOKEN={SECRET}\n")
    (repository / "policies" / "evil.policy").symlink_to(repository / ".env")
    for command in (["check", "policies/evil.policy"], ["fmt", "--check", "policies"]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert "not a policy file (it leads to .env)" in result.output
        _no_secret(result)


def test_a_scenario_link_out_of_the_repository_is_refused(repository: Path, run: Run) -> None:
    outside = repository.parent / "home" / "facts.yaml"
    outside.write_text("policy: late.policy\nfacts: {}\n")
    (repository / "policies" / "evil.yaml").symlink_to(outside)
    result = run("test", "policies")
    assert result.exit_code == 2, result.output
    assert "error[E310]" in result.output and "a link to" in result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_scenario_never_blocks_a_run(repository: Path) -> None:
    # Run in a real process: a blocked read would hang the test, which the timeout catches.
    os.mkfifo(repository / "policies" / "blocked.yaml")
    done = subprocess.run([sys.executable, "-m", "policy_engine", "test", "policies"],
                          cwd=repository, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "it is a FIFO (named pipe); only regular files are read" in done.stdout
    done = subprocess.run([sys.executable, "-m", "policy_engine", "eval",
                           "policies/blocked.yaml"], cwd=repository, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "it is a FIFO (named pipe); only regular files are read" in done.stderr
    # diff reads the scenarios under both versions: it ends too, and an unreadable scenario
    # fails the gate instead of counting as unchanged.
    done = subprocess.run([sys.executable, "-m", "policy_engine", "diff",
                           "HEAD:policies/late_delivery.policy", "policies/late_delivery.policy",
                           "--scenarios", "policies"], cwd=repository, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "1 scenarios read, 0 compared" in done.stdout
    assert "invalid: policies/blocked.yaml (E301 under both versions)" in done.stdout


@pytest.mark.parametrize("target", ["/dev/stdout", "/proc/self/fd/1"])
def test_a_scenario_link_to_standard_output_never_blocks(repository: Path, target: str) -> None:
    (repository / "policies" / "evil.yaml").symlink_to(target)
    for command in (["test", "policies"], ["eval", "policies/evil.yaml"]):
        done = subprocess.run([sys.executable, "-m", "policy_engine", *command],
                              cwd=repository, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "E310" in done.stdout + done.stderr


# ---------------------------------------------------------------- fmt never writes elsewhere


def test_fmt_never_writes_through_a_link_out_of_the_tree(repository: Path, run: Run) -> None:
    outside = repository.parent / "home" / "victim.policy"
    outside.write_text(LATE.read_text().replace("\n", "\n\n"))  # unformatted
    before = outside.read_text()
    (repository / "policies" / "linked.policy").symlink_to(outside)
    for args in (["fmt", "policies"], ["fmt", "policies/linked.policy"]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "error[E310]" in result.output
        assert outside.read_text() == before


def test_fmt_follows_a_link_inside_the_tree(repository: Path, run: Run) -> None:
    target = repository / "policies" / "real.policy"
    target.write_text(LATE.read_text().replace("\n", "\n\n"))
    (repository / "policies" / "alias.policy").symlink_to(target)
    result = run("fmt", "policies/alias.policy")
    assert result.exit_code == 0, result.output
    assert target.read_text() == LATE.read_text()
    assert (repository / "policies" / "alias.policy").is_symlink()

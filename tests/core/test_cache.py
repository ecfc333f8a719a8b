"""The cache of checked policies (`core.cache`): hits give the same policy, anything else is
a miss, and a cache that cannot be used is silently skipped."""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from policy_engine.core import cache
from policy_engine.explain.render import render_text
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
WARNING_POLICY = ROOT / "tests" / "cases" / "check_warning" / "W002_fact_never_used.policy"
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
FACTS = {"request": "goods_problem", "order_status": "completed", "paid": True,
         "payment_method": "card", "days_since_sent": 12, "goods_received": True,
         "problems": ["damaged"], "evidence": ["photo", "video"]}


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.ENVIRONMENT_SWITCH, raising=False)
    return home / "policy-engine"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the policies parsed and checked (rather than taken from the cache)."""
    seen: list[str] = []
    original = Policy._build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Policy], text: str, name: str, cache_key: str | None) -> Policy:
        seen.append(name)
        return original(cls, text, name, cache_key)  # type: ignore[no-any-return]

    monkeypatch.setattr(Policy, "_build", classmethod(counting))
    return seen


def _copy(source: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    return str(target)


def _entries(folder: Path) -> list[Path]:
    """The entries of checked policies (Lark's parser tables, cached when a test first needs
    the reference parser in this process, are left out)."""
    found = sorted(folder.glob("*.pickle")) if folder.exists() else []
    return [path for path in found if b"CheckedPolicy" in path.read_bytes()]


def test_a_hit_gives_the_same_decisions_and_warnings(cache_home: Path,
                                                     builds: list[str]) -> None:
    first = Policy.load(str(ALIEXPRESS))
    second = Policy.load(str(ALIEXPRESS))
    assert len(builds) == 1
    assert second.checked == first.checked
    assert second.evaluate(FACTS).to_json() == first.evaluate(FACTS).to_json()
    scenario = str(ROOT / "policies" / "aliexpress" / "scenarios" / "goods_problem"
                   / "damaged_photo_video_and_other.yaml")
    texts = [render_text([run_scenario(scenario, policy=policy).report()])
             for policy in (first, second)]
    assert texts[0] == texts[1]
    warned = [Policy.load(str(WARNING_POLICY)) for _ in range(2)]
    assert len(builds) == 2
    assert warned[0].warnings and warned[1].warnings == warned[0].warnings
    assert [w.render() for w in warned[1].warnings] == [w.render() for w in warned[0].warnings]


def test_a_changed_policy_text_misses(cache_home: Path, builds: list[str],
                                      tmp_path: Path) -> None:
    path = _copy(WARNING_POLICY, tmp_path / "work")
    before = Policy.load(path)
    text = Path(path).read_text(encoding="utf-8")
    Path(path).write_text(text + "\n# a comment changes the text\n", encoding="utf-8")
    after = Policy.load(path)
    assert builds == [before.checked.source.name, after.checked.source.name]
    assert after.checked.source.text != before.checked.source.text
    assert len(_entries(cache_home)) == 2


def test_a_corrupted_or_truncated_entry_is_a_miss(cache_home: Path, builds: list[str]) -> None:
    Policy.load(str(ALIEXPRESS))
    [entry] = _entries(cache_home)
    data = entry.read_bytes()
    for broken in (data[: len(data) // 2], b"not a pickle", data[:-1] + b"\xff", b""):
        entry.write_bytes(broken)
        policy = Policy.load(str(ALIEXPRESS))
        assert policy.evaluate(FACTS).decision == "open_dispute_full_refund"
    assert len(builds) == 5
    assert entry.read_bytes() == data  # written again by the last miss


def test_files_are_private_and_written_whole(cache_home: Path) -> None:
    Policy.load(str(ALIEXPRESS))
    [entry] = _entries(cache_home)
    assert stat.S_IMODE(cache_home.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not list(cache_home.glob(".tmp-*"))


def test_a_folder_others_can_write_to_is_not_read(cache_home: Path,
                                                  builds: list[str]) -> None:
    Policy.load(str(ALIEXPRESS))
    os.chmod(cache_home, 0o777)
    Policy.load(str(ALIEXPRESS))
    assert len(builds) == 2


@pytest.mark.parametrize("switch", ["0", "off", "false", "no"])
def test_the_environment_turns_it_off(cache_home: Path, builds: list[str], switch: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENVIRONMENT_SWITCH, switch)
    Policy.load(str(ALIEXPRESS))
    Policy.load(str(ALIEXPRESS))
    assert len(builds) == 2
    assert not _entries(cache_home)


def test_load_without_cache(cache_home: Path, builds: list[str]) -> None:
    Policy.load(str(ALIEXPRESS), cache=False)
    assert not _entries(cache_home)


def test_an_unwritable_cache_is_silently_skipped(tmp_path: Path, builds: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2):
        policy = Policy.load(str(ALIEXPRESS))
        assert policy.evaluate(FACTS).decision == "open_dispute_full_refund"
    assert len(builds) == 2


def test_invalid_policies_are_not_cached(cache_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.policy"
    path.write_text("policy bad\nfact x: yes/no\nrule r when y then z because \"q\"\n",
                    encoding="utf-8")
    for _ in range(2):
        with pytest.raises(Exception, match="unknown"):
            Policy.load(str(path))
    assert not _entries(cache_home)


def test_the_key_covers_text_name_and_engine() -> None:
    keys: set[Any] = {cache.key("policy a", "a.policy"), cache.key("policy a ", "a.policy"),
                      cache.key("policy a", "b.policy")}
    assert len(keys) == 3
    assert cache.key("policy a", "a.policy") == cache.key("policy a", "a.policy")


def test_the_no_cache_option_is_for_one_command(cache_home: Path, builds: list[str]) -> None:
    from click.testing import CliRunner

    from policy_engine.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--no-cache", "check", str(ALIEXPRESS)])
    assert result.exit_code == 0, result.output
    assert not _entries(cache_home)
    assert cache.enabled()  # the switch is put back when the command ends
    assert runner.invoke(cli, ["check", str(ALIEXPRESS)]).exit_code == 0
    assert len(_entries(cache_home)) == 1


def test_old_entries_are_removed(cache_home: Path, tmp_path: Path, builds: list[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    paths = []
    for index in range(3):
        path = tmp_path / f"p{index}.policy"
        path.write_text(WARNING_POLICY.read_text(encoding="utf-8"), encoding="utf-8")
        paths.append(str(path))
        Policy.load(str(path))
    assert len(_entries(cache_home)) == 2
    Policy.load(paths[-1])  # the most recent is kept
    assert len(builds) == 3


# ---------------------------------------------------------------- the cache follows the code

PACKAGE = ROOT / "engine" / "policy_engine"


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package for the fingerprint to read, so a test can change its files."""
    copy = tmp_path / "policy_engine"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_PACKAGE", copy)
    cache.engine_fingerprint.cache_clear()
    yield copy
    cache.engine_fingerprint.cache_clear()


@pytest.mark.parametrize("changed", [
    "__init__.py", "policy.py", "evaluate/interpreter.py", "check/checked.py",
    "language/parser.py", "explain/trace.py", "analysis/regions.py",
    "schemas/result.schema.json"])
def test_a_change_to_any_module_of_the_package_is_a_miss(package_copy: Path,
                                                        changed: str) -> None:
    before = cache.key("policy a", "a.policy", "grammar")
    target = package_copy / changed
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    cache.engine_fingerprint.cache_clear()
    assert cache.key("policy a", "a.policy", "grammar") != before


def test_a_new_module_in_a_subpackage_is_a_miss(package_copy: Path) -> None:
    before = cache.key("policy a", "a.policy", "grammar")
    (package_copy / "facts" / "new_stage.py").write_text('"""New."""\n', encoding="utf-8")
    cache.engine_fingerprint.cache_clear()
    assert cache.key("policy a", "a.policy", "grammar") != before


def test_a_changed_grammar_is_a_miss(cache_home: Path, builds: list[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from policy_engine import policy as policy_module

    Policy.load(str(ALIEXPRESS))
    Policy.load(str(ALIEXPRESS))
    assert len(builds) == 1
    monkeypatch.setattr(policy_module, "grammar_text", lambda: "a changed grammar")
    Policy.load(str(ALIEXPRESS))
    assert len(builds) == 2


def test_a_policy_cached_by_other_code_is_parsed_again(cache_home: Path, builds: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    Policy.load(str(ALIEXPRESS))
    monkeypatch.setattr(cache, "engine_fingerprint", lambda: b"the code changed")
    policy = Policy.load(str(ALIEXPRESS))
    assert len(builds) == 2
    assert policy.evaluate(FACTS).decision == "open_dispute_full_refund"


# ---------------------------------------------------------------- what an entry must be


ENTRY = "0" * 64  # a key of the right form, for entries written by hand


def _write_entry(folder: Path, body: bytes, *, key: str = ENTRY) -> Path:
    """An entry as `cache.store` writes it: header, SHA-256 of the body, body."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{key}.pickle"
    path.write_bytes(cache._header(key) + hashlib.sha256(body).digest() + body)
    path.chmod(0o600)
    return path


def test_every_single_byte_corruption_of_an_entry_is_a_miss(cache_home: Path) -> None:
    Policy.load(str(ALIEXPRESS))
    [entry] = _entries(cache_home)
    key = entry.stem
    data = entry.read_bytes()
    assert cache.load(key) is not None
    rng = random.Random(2026)
    for _ in range(500):
        position = rng.randrange(len(data))
        flipped = data[:position] + bytes([data[position] ^ rng.randrange(1, 256)]) \
            + data[position + 1:]
        entry.write_bytes(flipped)
        assert cache.load(key) is None, position
    entry.write_bytes(data)
    assert cache.load(key) is not None


def test_an_entry_naming_anything_but_the_engines_data_is_not_unpickled(
        cache_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {marker}",))

    _write_entry(cache_home, pickle.dumps(Payload()))
    assert cache.load(ENTRY) is None
    assert not marker.exists()
    # The same digest check passes for a plain value, so it is the unpickler that refused.
    _write_entry(cache_home, pickle.dumps(("plain", 1)))
    assert cache.load(ENTRY) == ("plain", 1)


def test_an_entry_that_is_a_link_is_a_miss(cache_home: Path, tmp_path: Path) -> None:
    real = _write_entry(tmp_path / "elsewhere", pickle.dumps(("plain", 1)))
    cache_home.mkdir(mode=0o700, parents=True)
    (cache_home / f"{ENTRY}.pickle").symlink_to(real)
    assert cache.load(ENTRY) is None


def test_an_entry_others_can_write_is_a_miss(cache_home: Path) -> None:
    path = _write_entry(cache_home, pickle.dumps(("plain", 1)))
    assert cache.load(ENTRY) == ("plain", 1)
    path.chmod(0o620)
    assert cache.load(ENTRY) is None


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                    reason="giving a file to another user needs root")
def test_an_entry_of_another_user_is_a_miss(cache_home: Path) -> None:
    path = _write_entry(cache_home, pickle.dumps(("plain", 1)))
    os.chown(path, 4242, 4242)
    assert cache.load(ENTRY) is None


def test_a_fifo_named_like_an_entry_does_not_block(cache_home: Path) -> None:
    cache_home.mkdir(mode=0o700, parents=True)
    os.mkfifo(cache_home / f"{ENTRY}.pickle", 0o600)
    assert cache.load(ENTRY) is None  # opened without blocking, and not a regular file


def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "xdg"
    home.mkdir()
    target = tmp_path / "someone-elses"
    _write_entry(target, pickle.dumps(("plain", 1)))
    (home / "policy-engine").symlink_to(target)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.ENVIRONMENT_SWITCH, raising=False)
    assert cache.load(ENTRY) is None
    cache.store("1" * 64, ("written", 2))
    assert not (target / f"{'1' * 64}.pickle").exists()  # nothing written through the link


def test_a_cache_folder_others_can_write_is_not_used(cache_home: Path) -> None:
    _write_entry(cache_home, pickle.dumps(("plain", 1)))
    cache_home.chmod(0o777)
    try:
        assert cache.load(ENTRY) is None
        cache.store("1" * 64, ("written", 2))
        assert not (cache_home / f"{'1' * 64}.pickle").exists()
    finally:
        cache_home.chmod(0o700)


def test_entries_are_written_private(cache_home: Path) -> None:
    Policy.load(str(ALIEXPRESS))
    [entry] = _entries(cache_home)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_home.stat().st_mode) == 0o700

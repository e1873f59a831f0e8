"""The ``normgraph`` CLI on a real store in a tmp home, through click's CliRunner (the real command objects,
in-process) — plus one run of the installed console script for the exit status of an error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner, Result

from normgraph.cli import EXIT_ERROR, EXIT_REJECTS, EXIT_USAGE, cli
from normgraph.services import DEMO_BANK, NormBankService
from normgraph.settings import Settings

CUSTOMER = "[PERSON]'s role is 'customer'"
TODDLER = "[PERSON]'s age bracket is 'toddler'"


def _demo_ids() -> set[str]:
    return {json.loads(line)["id"] for line in DEMO_BANK.read_text(encoding="utf-8").splitlines() if line.strip()}


def _demo_texts() -> set[str]:
    return {json.loads(line)["text"] for line in DEMO_BANK.read_text(encoding="utf-8").splitlines() if line.strip()}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    result = CliRunner().invoke(cli, ["--home", str(home), "demo", "--no-taxonomy", "--no-progress", "--no-embed"])
    assert result.exit_code == 0, result.output
    return home


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def test_demo_reports_what_it_loaded_and_if_empty_skips_a_loaded_store(home: Path) -> None:
    again = run(home, "demo", "--no-taxonomy", "--if-empty", "--no-progress", "--no-embed")
    assert again.exit_code == 0, again.output
    assert "nothing loaded" in again.output
    # without --if-empty, re-loading the same files is a no-op: nothing new, nothing rejected
    reload = run(home, "demo", "--no-taxonomy", "--no-progress", "--no-embed")
    assert reload.exit_code == 0, reload.output
    jsonl_line = next(line for line in reload.stdout.splitlines() if line.startswith("jsonl:"))
    assert "loaded 0," in jsonl_line and "rejected 0" in jsonl_line


def test_query_prints_a_table_with_the_resolved_labels(home: Path) -> None:
    general = run(home, "query", "--setting", "restaurant", "--behavior", "shout", "--fact", CUSTOMER)
    assert general.exit_code == 0, general.output
    row = next(line for line in general.stdout.splitlines() if line.startswith("shout"))
    cells = row.split()
    assert cells[1] == "unexpected" and cells[2] == "applicable"
    assert int(cells[6]) >= 1  # the toddler norm is conditional

    toddler = run(home, "query", "-s", "restaurant", "-b", "shout", "-f", CUSTOMER, "-f", TODDLER)
    cells = next(line for line in toddler.stdout.splitlines() if line.startswith("shout")).split()
    assert cells[1] == "okay"
    assert int(cells[5]) >= 1  # the customer-only norm is defeated


def test_query_json_is_the_query_result(home: Path) -> None:
    result = run(home, "query", "-s", "restaurant", "-b", "shout", "-f", CUSTOMER, "-f", TODDLER, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["setting"] == "restaurant"
    assert data["facts"] == [CUSTOMER, TODDLER]
    assert [r["behavior"] for r in data["results"]] == ["shout"]
    assert data["results"][0]["label"] == "okay"
    assert data["results"][0]["defeated"]


def test_query_all_walks_every_page(home: Path) -> None:
    one_page = json.loads(run(home, "query", "-s", "restaurant", "--limit", "2", "--json").stdout)
    assert len(one_page["results"]) == 2 and one_page["next_cursor"]
    everything = json.loads(run(home, "query", "-s", "restaurant", "--limit", "2", "--all", "--json").stdout)
    behaviours = [r["behavior"] for r in everything["results"]]
    assert everything["next_cursor"] is None
    assert behaviours == sorted(set(behaviours)) and len(behaviours) > 2
    demo_behaviours = {json.loads(line)["behavior"] for line in DEMO_BANK.read_text().splitlines() if '"restaurant"' in line}
    assert demo_behaviours <= set(behaviours)


def test_stats_json_counts_the_demo_bank(home: Path) -> None:
    result = run(home, "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["statements"] == len(_demo_ids())
    assert stats["by_kind"] == {"norm": len(_demo_ids())}
    assert stats["concepts"]["setting"] > 0


def test_settings_lists_the_settings_with_counts(home: Path) -> None:
    result = run(home, "settings", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    names = [r["name"] for r in rows]
    assert names == sorted(names)
    restaurant = next(r for r in rows if r["name"] == "restaurant")
    expected = sum(1 for line in DEMO_BANK.read_text().splitlines() if line.strip() and json.loads(line)["setting"] == "restaurant")
    assert restaurant["norm_count"] == expected


def test_export_turtle_parses_and_holds_the_bank(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank.ttl"
    result = run(home, "export", "--format", "turtle", "-o", str(out))
    assert result.exit_code == 0, result.output
    graph = rdflib.Graph().parse(out, format="turtle")
    literals = {str(o) for o in graph.objects() if isinstance(o, rdflib.Literal)}
    missing = _demo_texts() - literals
    assert not missing, f"{len(missing)} demo norms missing from the export, e.g. {sorted(missing)[:2]}"


def test_export_to_stdout(home: Path) -> None:
    result = run(home, "export", "--format", "ntriples")
    assert result.exit_code == 0, result.output
    graph = rdflib.Graph().parse(data=result.stdout_bytes.decode("utf-8"), format="nt")
    assert len(graph) > len(_demo_ids())


def test_ingest_of_a_file_with_bad_rows_exits_3_and_names_the_rejects(tmp_path: Path) -> None:
    home = tmp_path / "home"  # its own store: the module's demo store stays as loaded
    bad = tmp_path / "mixed.jsonl"
    bad.write_text(
        "\n".join(
            [
                json.dumps({"text": "In a restaurant, a guest humming is okay.", "setting": "restaurant", "behavior": "hum", "label": "okay"}),
                "{not json",
                json.dumps({"text": "No label here.", "setting": "restaurant", "behavior": "hum"}),
                json.dumps({"text": "Bad frame.", "setting": "restaurant", "behavior": "hum", "label": "okay", "frame": "customer"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.jsonl"
    result = run(home, "ingest", "jsonl", str(bad), "--rejects", str(rejects), "--no-progress", "--no-embed")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert str(rejects) in result.stderr
    assert "loaded 1" in result.stdout and "rejected 3" in result.stdout
    rejected_lines = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["file"], r["line"]) for r in rejected_lines] == [(str(bad), 2), (str(bad), 3), (str(bad), 4)]
    assert all(r["reason"] for r in rejected_lines)
    assert "label" in rejected_lines[1]["reason"]


def test_ingest_of_an_unknown_source_is_a_usage_error_listing_the_known(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b\n")
    result = run(home, "ingest", "no-such-reader", str(f))
    assert result.exit_code == EXIT_USAGE
    assert "no-such-reader" in result.stderr
    for known in ("normbank", "jsonl", "concepts"):
        assert known in result.stderr


def test_ingest_of_a_missing_file_is_an_error_naming_it(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run(home, "ingest", "jsonl", str(missing), "--no-progress", "--no-embed")
    assert result.exit_code == EXIT_ERROR
    assert str(missing) in result.stderr
    assert "Traceback" not in result.output


def test_query_of_an_unknown_setting_exits_1_without_a_traceback(home: Path) -> None:
    result = run(home, "query", "--setting", "moon base")
    assert result.exit_code == EXIT_ERROR
    assert "unknown setting 'moon base'" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_malformed_fact_exits_1_naming_it(home: Path) -> None:
    result = run(home, "query", "-s", "restaurant", "-f", "the customer is a toddler")
    assert result.exit_code == EXIT_ERROR
    assert "the customer is a toddler" in result.stderr


def test_a_locked_store_exits_1_with_a_clear_message_for_a_write(home: Path, tmp_path: Path) -> None:
    bank = tmp_path / "one.jsonl"
    bank.write_text(DEMO_BANK.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    with NormBankService(Settings(home=home)):
        result = run(home, "ingest", "jsonl", str(bank), "--no-progress", "--no-embed")
    assert result.exit_code == EXIT_ERROR, result.output
    assert "in use" in result.stderr or "lock" in result.stderr
    assert "Traceback" not in result.output


def test_reading_commands_open_a_locked_store_read_only(home: Path) -> None:
    # A one-worker server (or an ingest) holds the write lock: commands that only read still answer.
    with NormBankService(Settings(home=home)):
        stats = run(home, "stats", "--json")
        query = run(home, "query", "--setting", "restaurant", "--behavior", "shout", "--fact", CUSTOMER, "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["statements"] == len(_demo_ids())
    assert "read-only" in stats.stderr
    assert query.exit_code == 0, query.output
    assert json.loads(query.stdout)["results"][0]["label"] == "unexpected"


def test_sources_lists_the_installed_readers() -> None:
    result = CliRunner().invoke(cli, ["sources"])
    assert result.exit_code == 0, result.output
    for name in ("normbank", "normbank-taxonomy", "jsonl", "concepts"):
        assert any(line == name for line in result.stdout.splitlines()), name
    assert "columns:" in result.stdout


def test_the_console_script_reports_errors_without_a_traceback(home: Path) -> None:
    script = Path(sys.executable).with_name("normgraph")
    if not script.exists():
        pytest.skip(f"the normgraph console script is not installed at {script}")
    proc = subprocess.run(
        [str(script), "--home", str(home), "query", "--setting", "moon base"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == EXIT_ERROR
    assert proc.stderr.startswith("Error: unknown setting")
    assert "Traceback" not in proc.stderr


def test_the_readme_jsonl_example_ingests_cleanly_and_answers(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## JSONL format") :]
    example = section[section.index("```json\n") + len("```json\n") : section.index("```", section.index("```json\n") + 7)]
    data = tmp_path / "example.jsonl"
    data.write_text(example, encoding="utf-8")
    home = tmp_path / "home"
    assert run(home, "ingest", "concepts", str(Path(DEMO_BANK).with_name("taxonomy.json")), "--no-progress", "--no-embed").exit_code == 0
    result = run(home, "ingest", "jsonl", str(data), "--no-progress", "--no-embed")
    assert result.exit_code == 0, result.output
    assert f"loaded {len(example.strip().splitlines())}," in result.stdout
    answer = json.loads(run(home, "query", "-s", "restaurant", "-b", "shout", "-f", CUSTOMER, "-f", TODDLER, "--json").stdout)
    assert answer["results"][0]["label"] == "okay"


@pytest.mark.slow
def test_demo_loads_the_normbank_taxonomy_when_it_is_there(shared_data: Path, tmp_path: Path) -> None:
    taxonomy = shared_data / "normbank-taxonomy"
    settings_txt = taxonomy / "raw" / "settings.txt"
    result = run(tmp_path, "demo", "--taxonomy", str(taxonomy), "--no-progress", "--no-embed")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("normbank-taxonomy:")
    stats = json.loads(run(tmp_path, "stats", "--json").stdout)
    assert stats["concepts"]["setting"] >= len([x for x in settings_txt.read_text().splitlines() if x.strip()])
    assert stats["statements"] == len(_demo_ids())
    toddler = json.loads(run(tmp_path, "query", "-s", "restaurant", "-b", "shout", "-f", CUSTOMER, "-f", TODDLER, "--json").stdout)
    assert toddler["results"][0]["label"] == "okay"


def test_serve_refuses_a_locked_store_or_a_missing_one_before_starting(home: Path, tmp_path: Path) -> None:
    with NormBankService(Settings(home=home)):
        locked = run(home, "serve", "--port", "1")
    assert locked.exit_code == EXIT_ERROR
    assert "in use" in locked.stderr and "Traceback" not in locked.output
    empty = run(tmp_path / "empty-home", "serve", "--workers", "2", "--port", "1")
    assert empty.exit_code == EXIT_ERROR
    assert "no store" in empty.stderr

"""`normgraph judge` on a real demo bank in a tmp home (CliRunner, the real commands in-process), and the
MCP tool and the LangChain tool over the same bank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from normgraph.cli import EXIT_ERROR, cli


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-judge") / "home"
    result = run(home, "demo", "--no-taxonomy", "--no-progress")
    assert result.exit_code == 0, result.output
    return home


def test_judge_prints_the_label_the_stage_and_the_trace(home: Path) -> None:
    result = run(home, "judge", "shout", "--setting", "restaurant", "--fact", "[PERSON]'s role is 'customer'")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("unexpected") and "decided by frame_resolution" in first
    assert "supplied_norms: skipped — no norms supplied" in result.stdout


def test_judge_json_follows_a_labelled_norm(home: Path) -> None:
    yes = run(home, "judge", "I ate dinner with my hands", "--norm", "expected: eat with your hands", "--json")
    no = run(home, "judge", "I ate dinner with my hands", "--norm", "unexpected: eat with your hands", "--json")
    assert yes.exit_code == no.exit_code == 0, (yes.output, no.output)
    a, b = json.loads(yes.stdout), json.loads(no.stdout)
    assert (a["label"], b["label"], a["method"]) == ("expected", "unexpected", "supplied_norms")


def test_an_unknown_model_path_is_one_line_and_exit_1(home: Path, tmp_path: Path) -> None:
    result = run(home, "judge", "shout", "--model", str(tmp_path / "nope"))
    assert result.exit_code == EXIT_ERROR
    assert "no judge model at" in result.output and "Traceback" not in result.output


def test_a_blank_behaviour_is_an_error_not_a_traceback(home: Path) -> None:
    result = run(home, "judge", "  ")
    assert result.exit_code == EXIT_ERROR and "behavior" in result.output


def test_the_langchain_tool_judges_over_the_bank(home: Path) -> None:
    from langchain_core.tools import BaseTool

    from normgraph.integrations.langchain import NormJudgeTool

    tool = NormJudgeTool.from_home(home)
    try:
        assert isinstance(tool, BaseTool) and tool.name == "judge_behavior"
        out = tool.invoke({"behavior": "shout", "setting": "restaurant", "facts": ["[PERSON]'s role is 'customer'"]})
        assert (out["label"], out["method"]) == ("unexpected", "frame_resolution")
        follow = tool.invoke({"behavior": "I ate dinner with my hands", "norms": ["In this community it is rude to eat with your hands."]})
        assert (follow["label"], follow["method"]) == ("unexpected", "supplied_norms")
    finally:
        tool.close()


def test_the_mcp_tool_judges_over_the_bank(home: Path) -> None:
    import anyio

    from normgraph.mcp_server import create_server
    from normgraph.settings import Settings

    server = create_server(Settings(home=home))

    async def call():
        return await server.call_tool("judge_behavior", {"behavior": "I ate dinner with my hands",
                                                          "norms": ["expected: eat with your hands"]})

    try:
        result = anyio.run(call)
        assert not result.is_error, result.content
        payload = result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)
        assert (payload["label"], payload["method"]) == ("expected", "supplied_norms")
        tools = anyio.run(server.list_tools)
        assert "judge_behavior" in {t.name for t in tools}
    finally:
        server._normgraph_bank.close()  # type: ignore[attr-defined]

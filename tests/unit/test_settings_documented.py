"""Every setting is documented in the README's settings table, and the README names no setting that does
not exist."""

from __future__ import annotations

import re
from pathlib import Path

from normgraph.settings import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[2] / "README.md"
_VAR = re.compile(r"\bNORMGRAPH_[A-Z0-9_]+\b")


def _settings_table_rows() -> dict[str, str]:
    """Rows of the README table whose first cell is a `NORMGRAPH_…` variable: variable -> the whole row."""
    rows: dict[str, str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("|"):
            continue
        first = line.strip().strip("|").split("|")[0]
        m = _VAR.search(first)
        if m:
            rows[m.group(0)] = line
    return rows


def test_every_setting_is_in_the_readme_table() -> None:
    rows = _settings_table_rows()
    assert rows, "README.md has no settings table (rows starting with | `NORMGRAPH_…`)"
    missing = [ENV_PREFIX + name.upper() for name in Settings.model_fields if ENV_PREFIX + name.upper() not in rows]
    assert not missing, f"settings missing from README.md's settings table: {missing}"


def test_every_documented_variable_is_a_setting() -> None:
    real = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    mentioned = set(_VAR.findall(README.read_text(encoding="utf-8")))
    unknown = sorted(mentioned - real)
    assert not unknown, f"README.md mentions variables that are not settings: {unknown}"


def test_documented_defaults_match_the_code() -> None:
    """The default column must not drift: for settings with a plain default, the row shows it."""
    rows = _settings_table_rows()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, bool):
            shown = ("1" if default else "0", str(default).lower())
        elif isinstance(default, (int, str)):
            shown = (str(default),)
        else:
            continue
        row = rows[ENV_PREFIX + name.upper()]
        assert any(f"`{s}`" in row for s in shown), f"README row for {name} does not show its default {shown[0]!r}: {row}"

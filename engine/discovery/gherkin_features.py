"""cucumber discovery: ``.feature`` files read with the official Gherkin parser.

The parser's pickle compiler does what cucumber does before running: it expands every Scenario
Outline into one scenario per Examples row (named with the row's values) and gives each the tags
of its feature, rule, scenario and examples table. A pickle's line is its scenario's line, or
for an outline its example row's line, so ``path:line`` is exactly what cucumber-js accepts.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from engine.errors import DiscoveryError

if TYPE_CHECKING:
    from engine.spec import Scenario

__all__ = ["discover_features", "feature_files", "parse_feature"]

# Directories that hold other people's feature files (dependencies) or none at all.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})


def feature_files(project: Path) -> list[Path]:
    """Every ``.feature`` file under ``project``, sorted, outside dependencies and hidden dirs."""
    found = []
    for path in project.rglob("*.feature"):
        parts = path.relative_to(project).parts[:-1]
        if not any(p in SKIPPED_DIRS or p.startswith(".") for p in parts):
            found.append(path)
    return sorted(found)


def discover_features(project: Path) -> list[Scenario]:
    scenarios: list[Scenario] = []
    for path in feature_files(project):
        relative = PurePosixPath(path.relative_to(project).as_posix())
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DiscoveryError(f"{relative}: cannot read: {exc}") from None
        scenarios.extend(parse_feature(text, str(relative)))
    return scenarios


def parse_feature(text: str, uri: str) -> list[Scenario]:
    """The scenarios of one feature file; ``uri`` is its path relative to the project."""
    # Loaded once a feature is parsed: every command of the CLI imports this module.
    from gherkin.errors import CompositeParserException, ParserException
    from gherkin.parser import Parser
    from gherkin.pickles.compiler import Compiler

    from engine.spec import Scenario  # pydantic: loaded once scenarios are made

    try:
        document = Parser().parse(text)
    except (CompositeParserException, ParserException) as exc:
        raise DiscoveryError(f"{uri}: not valid Gherkin: {exc}") from None
    pickles = Compiler().compile({**document, "uri": uri})
    scenarios = []
    for pickle in pickles:
        line = pickle["location"]["line"] if "location" in pickle else 0
        scenario_id = f"{uri}:{line}"
        scenarios.append(
            Scenario(
                id=scenario_id,
                name=pickle["name"],
                tags=list(dict.fromkeys(t["name"].removeprefix("@") for t in pickle["tags"])),
            )
        )
    return scenarios

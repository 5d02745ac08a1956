"""YAML loading and validation: every error names file, line and key, and nothing is guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.catalog import load_catalog
from dataplatform.config.yamlsource import parse_yaml
from dataplatform.errors import ConfigError, UserError
from dataplatform.project import Project


def checkout(tmp_path: Path, services: str, pipelines: dict[str, str] | None = None) -> Project:
    (tmp_path / "dodo.py").write_text("")
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform/services.yaml").write_text(services)
    for name, text in (pipelines or {}).items():
        (tmp_path / "pipelines" / name).mkdir(parents=True)
        (tmp_path / "pipelines" / name / "pipeline.yaml").write_text(text)
    return Project(tmp_path.resolve())


def test_lines_are_tracked_for_nested_keys() -> None:
    doc = parse_yaml("a:\n  b:\n    - x\n    - y: 1\n", "f.yaml")
    assert doc.line(("a", "b", 1, "y")) == 4
    assert doc.line(("a", "b", 0)) == 3
    assert doc.line(("a", "missing")) == 1  # falls back to the nearest known parent


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("services:\n  a: {}\n  a: {}\n", "svc.yaml")
    assert str(info.value) == (
        "svc.yaml:3: services.a: duplicate key (first defined on line 2) — keep one of them"
    )


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^bad.yaml:4: invalid YAML: .* \(while parsing a flow "
        r"sequence started on line 3\)$",
    ):
        parse_yaml("a: 1\nb:\n  - [unclosed\n", "bad.yaml")


def test_unknown_service_key_suggests(tmp_path: Path) -> None:
    project = checkout(tmp_path, "services:\n  db:\n    imagee: postgres\n")
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    assert str(info.value) == (
        "platform/services.yaml:3: services.db.imagee: unknown key — did you mean 'image'?"
    )


def test_pipeline_images_are_declared_with_pipeline_prefix(tmp_path: Path) -> None:
    project = checkout(
        tmp_path,
        "namespace: demo\nservices: {}\n",
        {
            "sales": "name: sales\nimages:\n  loader:\n    context: docker\n    args: {A: 'x'}\n",
        },
    )
    catalog = load_catalog(project)
    [spec] = catalog.images
    assert spec.name == "sales-loader"
    assert spec.context == tmp_path.resolve() / "pipelines/sales/docker"
    assert spec.args == (("A", "x"),)
    assert spec.declared_in == "pipelines/sales/pipeline.yaml:3"
    assert catalog.namespace == "demo"


def test_templates_and_shared_are_not_pipelines(tmp_path: Path) -> None:
    project = checkout(tmp_path, "services: {}\n", {"_templates": "name: x\n", "shared": "a: 1\n"})
    assert load_catalog(project).pipelines == ()


def test_duplicate_image_names_across_files(tmp_path: Path) -> None:
    project = checkout(
        tmp_path,
        "services:\n  sales-loader:\n    build: images/x\n",
        {"sales": "images:\n  loader: {context: docker}\n"},
    )
    with pytest.raises(
        UserError,
        match=r"image 'sales-loader' is already declared at "
        "platform/services.yaml:3",
    ):
        load_catalog(project)


def test_invalid_namespace(tmp_path: Path) -> None:
    project = checkout(tmp_path, "namespace: My Project\n")
    with pytest.raises(ConfigError, match=r"services.yaml:1: namespace: 'My Project' is not"):
        load_catalog(project)


def test_namespace_defaults_to_the_directory_name(tmp_path: Path) -> None:
    root = tmp_path / "Team Repo"
    root.mkdir()
    project = checkout(root, "services: {}\n")
    assert load_catalog(project).namespace == "team-repo"

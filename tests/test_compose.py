"""docker-compose.yml checked against the code (no Docker engine runs here)."""

from __future__ import annotations

from typing import Any

import yaml

from docbatch.settings import Settings
from tests.conftest import REPO_ROOT


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _settings_env_names() -> set[str]:
    names = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}
    prefix = Settings.model_config.get("env_prefix", "")
    names |= {f"{prefix}{name}".upper() for name in Settings.model_fields}
    return names


def test_services_are_present_and_images_pinned() -> None:
    services = _compose()["services"]
    assert {"postgresql", "temporal", "temporal-ui", "worker"} <= set(services)
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"


def test_worker_environment_matches_settings() -> None:
    worker = _compose()["services"]["worker"]
    env = worker["environment"]
    unknown = set(env) - _settings_env_names()
    assert not unknown, f"compose sets variables the code does not read: {unknown}"
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    settings = Settings.model_validate(
        {k.removeprefix("DOCBATCH_").lower() if k.startswith("DOCBATCH_") else k: v
         for k, v in env.items()}
    )  # fmt: skip
    assert settings.task_queue == "docbatch"


def test_worker_command_and_build_exist() -> None:
    worker = _compose()["services"]["worker"]
    command = worker["command"]
    assert command[0] == "python"
    assert (REPO_ROOT / command[1]).is_file()
    assert worker["build"] == "."
    assert (REPO_ROOT / "Dockerfile").is_file()
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "USER docbatch" in dockerfile


def test_temporal_port_matches_the_default_address() -> None:
    services = _compose()["services"]
    port = Settings().temporal_address.rsplit(":", 1)[1]
    assert f"{port}:7233" in services["temporal"]["ports"]
    assert any(p.startswith(f"{Settings().dev_ui_port}:") for p in services["temporal-ui"]["ports"])


def test_dependencies_wait_for_health() -> None:
    services = _compose()["services"]
    assert services["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    for name in ("postgresql", "temporal"):
        assert "healthcheck" in services[name]
    password = services["postgresql"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")

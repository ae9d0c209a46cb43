"""docker-compose.yml, the Dockerfile and deploy/ checked against the code.

No Docker engine runs here, so no container starts. The compose file is loaded as YAML,
interpolated the way Compose does it (``${VAR:?message}`` and friends, with sample values
for the secrets) and compared with what the code reads and serves: ``Settings`` fields,
ports, commands, search attributes, database names. The one-shot scripts in deploy/ run
for real, with the environment and arguments compose gives them, against stand-ins for
the ``temporal`` and ``temporal-sql-tool`` programs of the admin-tools image (Temporal's
own programs cannot run here); the PostgreSQL init script runs against a throwaway
PostgreSQL cluster when the server's binaries are installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from docbatch.api.main import create_app
from docbatch.settings import Settings
from docbatch.temporal import SEARCH_ATTRIBUTES, cli_type
from tests.conftest import REPO_ROOT, free_port

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
INIT_SCRIPT = REPO_ROOT / "deploy" / "postgres" / "10-docbatch-database.sh"
SCHEMA_SCRIPT = REPO_ROOT / "deploy" / "temporal" / "setup-schema.sh"
SEARCH_ATTRIBUTE_SCRIPT = REPO_ROOT / "deploy" / "temporal" / "register-search-attributes.sh"

# The secrets the stack cannot run without; compose must refuse to start while one is
# unset (``${VAR:?message}``), never fall back to a default written in the file.
SAMPLE_SECRETS = {
    "POSTGRES_PASSWORD": "sample-postgres-password",
    "DOCBATCH_DB_PASSWORD": "sample-docbatch-db-password",
    "DOCBATCH_API_KEY": "dbk_sample-api-key",
    "DOCBATCH_WEBHOOK_SECRET": "sample-webhook-secret",
}
SECRET_NAME = re.compile(r"(PASSWORD|PWD|SECRET|API_KEY|TOKEN)$")

DOCBATCH_SERVICES = ("api", "worker")
# What each docbatch service cannot work without (beyond the settings' defaults).
REQUIRED_SETTINGS = {
    "api": {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "DOCBATCH_TASK_QUEUE",
        "DOCBATCH_DATA_DIR",
        "DOCBATCH_DATABASE_URL",
        "DOCBATCH_WEBHOOK_SECRET",
        "DOCBATCH_API_HOST",
        "DOCBATCH_API_KEY",
    },
    "worker": {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "DOCBATCH_TASK_QUEUE",
        "DOCBATCH_DATA_DIR",
        "DOCBATCH_DATABASE_URL",
        "DOCBATCH_WEBHOOK_SECRET",
        "DOCBATCH_METRICS_HOST",
        "DOCBATCH_METRICS_PORT",
    },
}
# What API and workers must agree on to work on the same jobs.
SHARED_SETTINGS = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "DOCBATCH_TASK_QUEUE",
    "DOCBATCH_DATA_DIR",
    "DOCBATCH_DATABASE_URL",
    "DOCBATCH_WEBHOOK_SECRET",
)
# The upstream default port of the Temporal Web UI inside its container.
TEMPORAL_UI_CONTAINER_PORT = 8080


# --- Compose interpolation -----------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Reference:
    """One ``${VAR…}`` in the compose file: the variable, its operator and argument."""

    name: str
    op: str | None
    arg: str | None


class MissingVariableError(Exception):
    """A ``${VAR:?message}`` whose variable is unset, as ``docker compose`` reports it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name
        self.message = message


def _interpolate_string(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        value = env.get(name)
        unset_or_empty = not value
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else value is None) else str(value)
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else value is None:
                raise MissingVariableError(name, arg)
            return str(value)
        if op in (":+", "+"):
            return "" if (unset_or_empty if op == ":+" else value is None) else arg
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """The compose document with every ``$…`` resolved against ``env``, as Compose does."""
    if isinstance(node, str):
        return _interpolate_string(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def references(node: Any) -> Iterator[Reference]:
    """Every variable reference in the compose document (``$$`` escapes excluded)."""
    if isinstance(node, str):
        for match in _VARIABLE.finditer(node):
            if not match["escaped"]:
                yield Reference(match["braced"] or match["named"], match["op"], match["arg"])
    elif isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from references(value)


@functools.cache
def raw_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@functools.cache
def compose() -> dict[str, Any]:
    """The compose file as ``docker compose config`` sees it with the sample secrets."""
    result = interpolate(raw_compose(), SAMPLE_SECRETS)
    assert isinstance(result, dict)
    return result


def services() -> dict[str, dict[str, Any]]:
    result = compose()["services"]
    assert isinstance(result, dict)
    return result


def environment(service: str) -> dict[str, str]:
    """A service's environment as strings (map or ``KEY=value`` list syntax)."""
    env = services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def one_shot(service: str) -> bool:
    """A job that runs to completion (``restart: "no"``), not a long-running service."""
    return services()[service].get("restart") == "no"


@dataclass(frozen=True)
class Port:
    """One ``ports:`` entry: the host port (None when Docker picks one) and the target."""

    published: int | None
    target: int


def ports(service: str) -> list[Port]:
    result = []
    for entry in services()[service].get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            result.append(Port(int(published) if published else None, int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        target = int(parts[-1])
        published_part = parts[-2] if len(parts) >= 2 else ""
        result.append(Port(int(published_part) if published_part else None, target))
    return result


def volume_mounts(service: str) -> dict[str, str]:
    """Target → source of a service's volumes (short syntax)."""
    mounts = {}
    for entry in services()[service].get("volumes", []):
        source, target = str(entry).split(":")[:2]
        mounts[target] = source
    return mounts


def healthcheck_url(service: str) -> str:
    test = services()[service]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    match = re.search(r"https?://[^'\"\s)]+", text)
    assert match, f"{service}'s healthcheck requests no URL: {text}"
    return match.group(0)


def settings_env_names() -> set[str]:
    """Every environment variable ``Settings`` reads (aliases included)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) if alias is not None else None
        if choices is not None:
            names |= {choice.upper() for choice in choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def settings_for(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``Settings()`` exactly as the service's container builds it from its environment."""
    for name in list(os.environ):
        if name.startswith(("DOCBATCH_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    for name, value in environment(service).items():
        monkeypatch.setenv(name, value)
    return Settings()


# --- The compose file ----------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    """Validated with the Compose Specification schema that check-jsonschema vendors."""
    builtin_schemas = pytest.importorskip("check_jsonschema.builtin_schemas")
    import jsonschema

    schema = builtin_schemas.get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose())
    ]
    assert not errors, "\n".join(errors)


def test_stack_has_every_service() -> None:
    assert set(services()) == {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-search-attributes",
        "temporal-ui",
        "api",
        "worker",
    }


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image!r} has no tag"
        assert re.match(r"^v?\d+\.\d+", tag), f"{name}: {image!r} is not pinned to a version"


def test_docbatch_image_is_built_here_and_tagged_with_the_package_version() -> None:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in DOCBATCH_SERVICES:
        service = services()[name]
        assert service["image"] == f"docbatch:{version}"
        assert service["build"] == "."


def test_temporal_server_and_admin_tools_are_the_same_release() -> None:
    """The schema job applies the schema its image ships: it must be the server's."""
    server_tag = services()["temporal"]["image"].rpartition(":")[2]
    assert services()["temporal"]["image"].startswith("temporalio/server:")
    for name in ("temporal-schema", "temporal-search-attributes"):
        assert services()[name]["image"] == f"temporalio/admin-tools:{server_tag}"


def test_long_running_services_have_healthchecks() -> None:
    for name, service in services().items():
        if one_shot(name):
            continue
        assert service.get("restart") == "unless-stopped", f"{name} is not restarted"
        healthcheck = service.get("healthcheck")
        assert healthcheck and not healthcheck.get("disable"), f"{name} has no healthcheck"
        assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name


def test_every_dependency_waits_on_a_condition_that_can_be_met() -> None:
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for target, spec in depends_on.items():
            assert target in services(), f"{name} depends on unknown {target}"
            condition = spec.get("condition")
            if one_shot(target):
                assert condition == "service_completed_successfully", f"{name} → {target}"
            else:
                assert condition == "service_healthy", f"{name} → {target}"
                assert "healthcheck" in services()[target], f"{name} → {target}"


def test_one_shot_jobs_run_before_what_needs_them() -> None:
    assert services()["temporal"]["depends_on"]["temporal-schema"]
    for name in DOCBATCH_SERVICES:
        assert "temporal-search-attributes" in services()[name]["depends_on"]
        assert "postgresql" in services()[name]["depends_on"]


def test_api_migrates_the_store_before_workers_start() -> None:
    """Store.open migrates: N workers on a fresh database would race; the API goes first."""
    assert services()["worker"]["depends_on"]["api"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(SAMPLE_SECRETS))
def test_compose_refuses_to_start_without_a_required_secret(name: str) -> None:
    env = {key: value for key, value in SAMPLE_SECRETS.items() if key != name}
    with pytest.raises(MissingVariableError) as raised:
        interpolate(raw_compose(), env)
    assert raised.value.name == name
    assert name in raised.value.message, "the message should say which variable to set"
    found = [ref for ref in references(raw_compose()) if ref.name == name]
    assert found and all(ref.op == ":?" and ref.arg for ref in found), found


def test_no_secret_is_written_in_the_file() -> None:
    for name in services():
        raw_env = raw_compose()["services"][name].get("environment", {})
        for key in environment(name):
            if SECRET_NAME.search(key):
                raw_value = str(raw_env.get(key, ""))
                assert raw_value.startswith("${"), f"{name}.{key} is written in the file"
    # An optional secret (the LLM key) may be left empty, never given a value here.
    for ref in references(raw_compose()):
        if SECRET_NAME.search(ref.name) and ref.op in (":-", "-"):
            assert not ref.arg, f"{ref.name} has a default written in the file"


@pytest.mark.parametrize("service", DOCBATCH_SERVICES)
def test_docbatch_services_set_only_variables_the_code_reads(service: str) -> None:
    unknown = set(environment(service)) - settings_env_names()
    assert not unknown, f"{service} sets variables docbatch.settings.Settings does not read"


@pytest.mark.parametrize("service", DOCBATCH_SERVICES)
def test_docbatch_services_set_every_setting_they_need(service: str) -> None:
    env = environment(service)
    missing = {name for name in REQUIRED_SETTINGS[service] if not env.get(name)}
    assert not missing, f"{service} lacks {sorted(missing)}"


@pytest.mark.parametrize("service", DOCBATCH_SERVICES)
def test_docbatch_service_environment_parses_as_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(service, monkeypatch)
    assert settings.effective_database_url.startswith("postgresql+asyncpg://")
    assert settings.data_dir == Path("/data")
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == SAMPLE_SECRETS["DOCBATCH_WEBHOOK_SECRET"]
    assert settings.log_format == "json"
    # The optional LLM variables, left unset, change nothing.
    assert settings.llm_options is None
    assert settings.llm_model == Settings.model_fields["llm_model"].default
    if service == "api":
        assert settings.api_host == "0.0.0.0"
        assert settings.api_key is not None
        assert settings.api_key.get_secret_value() == SAMPLE_SECRETS["DOCBATCH_API_KEY"]


def test_defaults_written_in_the_file_are_the_settings_own() -> None:
    """``${DOCBATCH_X:-value}`` repeats a default: it must not drift from Settings'."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    checked = 0
    for name in DOCBATCH_SERVICES:
        for key, value in raw_compose()["services"][name]["environment"].items():
            match = re.fullmatch(r"\$\{\w+:-([^}]+)\}", str(value))
            if match and key.startswith(prefix):
                field = Settings.model_fields[key.removeprefix(prefix).lower()]
                assert str(field.default) == match.group(1), f"{name}.{key}"
                checked += 1
    assert checked


def test_api_and_worker_share_store_queue_namespace_and_data() -> None:
    api, worker = environment("api"), environment("worker")
    for name in SHARED_SETTINGS:
        assert api[name] == worker[name], name
    data_dir = api["DOCBATCH_DATA_DIR"]
    api_volume = volume_mounts("api")[data_dir]
    assert api_volume == volume_mounts("worker")[data_dir]
    assert api_volume in compose()["volumes"], "the data dir must be a named volume"


def test_api_port_matches_settings_published_port_and_healthcheck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = settings_for("api", monkeypatch).api_port
    assert port == Settings.model_fields["api_port"].default
    assert Port(port, port) in ports("api")
    url = urlsplit(healthcheck_url("api"))
    assert url.port == port


def test_api_healthcheck_asks_the_health_route() -> None:
    url = urlsplit(healthcheck_url("api"))
    assert url.path == "/health"
    assert "get" in create_app(Settings()).openapi()["paths"][url.path]
    assert services()["api"]["healthcheck"]["test"][1] == "python", "the image has no curl"


def test_worker_metrics_port_matches_settings_and_healthcheck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for("worker", monkeypatch)
    assert "metrics_port" in Settings.model_fields, "Settings has no metrics_port yet"
    port = getattr(settings, "metrics_port", None)
    assert port == 9464
    assert getattr(settings, "metrics_host", None) == "0.0.0.0"
    url = urlsplit(healthcheck_url("worker"))
    assert (url.port, url.path) == (port, "/metrics")
    assert str(port) in [str(item) for item in services()["worker"].get("expose", [])]


def test_worker_can_scale() -> None:
    """``--scale worker=N`` needs no fixed container name and no fixed host port."""
    worker = services()["worker"]
    assert "container_name" not in worker
    assert all(port.published is None for port in ports("worker"))


def test_temporal_address_points_at_the_temporal_service_on_the_default_port() -> None:
    default_port = int(Settings.model_fields["temporal_address"].default.rsplit(":", 1)[1])
    assert Port(default_port, default_port) in ports("temporal")
    for name in services():
        address = environment(name).get("TEMPORAL_ADDRESS")
        if address is not None:
            assert address == f"temporal:{default_port}", name


def test_web_ui_is_published_where_the_embedded_stack_serves_it() -> None:
    ui_port = Settings.model_fields["dev_ui_port"].default
    assert Port(ui_port, TEMPORAL_UI_CONTAINER_PORT) in ports("temporal-ui")
    url = urlsplit(healthcheck_url("temporal-ui"))
    assert url.port == TEMPORAL_UI_CONTAINER_PORT


def test_commands_exist() -> None:
    worker = services()["worker"]["command"]
    assert worker[:1] == ["python"]
    assert (REPO_ROOT / worker[1]).is_file()
    assert worker[1] in dockerfile_runtime_files(), "the image lacks the worker's script"
    api = services()["api"]["command"]
    assert api[:2] == ["python", "-m"]
    assert importlib.util.find_spec(f"{api[2]}.__main__") is not None
    assert dockerfile_default_command() == worker


def test_registered_search_attributes_equal_the_code() -> None:
    job = services()["temporal-search-attributes"]
    registered = dict(str(arg).split("=", 1) for arg in job["command"])
    assert registered == {key.name: cli_type(key) for key in SEARCH_ATTRIBUTES}
    assert len(job["command"]) == len(SEARCH_ATTRIBUTES)
    namespace = environment("temporal-search-attributes")["TEMPORAL_NAMESPACE"]
    assert namespace == environment("api")["TEMPORAL_NAMESPACE"]
    assert job["entrypoint"][-1].endswith(f"/{SEARCH_ATTRIBUTE_SCRIPT.name}")


def test_database_url_names_the_postgres_service_and_the_init_scripts_database() -> None:
    url = make_url(environment("api")["DOCBATCH_DATABASE_URL"])
    assert url.drivername == "postgresql+asyncpg"
    assert url.host in services()
    assert services()[url.host]["image"].startswith("postgres:")
    assert url.port == 5432
    script = INIT_SCRIPT.read_text()
    role = re.search(r"CREATE ROLE (\w+)", script)
    database = re.search(r"CREATE DATABASE (\w+) OWNER (\w+)", script)
    assert role and database
    assert (url.username, url.database) == (role.group(1), database.group(1))
    assert database.group(2) == role.group(1)
    # The role's password reaches both sides from the one variable.
    password_refs = {
        ref.name
        for ref in references(raw_compose()["x-docbatch-environment"]["DOCBATCH_DATABASE_URL"])
    }
    assert password_refs == {"DOCBATCH_DB_PASSWORD"}
    assert url.password == SAMPLE_SECRETS["DOCBATCH_DB_PASSWORD"]
    assert environment(url.host)["DOCBATCH_DB_PASSWORD"] == url.password
    script_vars = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script))
    assert script_vars <= set(environment(url.host)) | {"POSTGRES_DB"}, script_vars


def test_init_script_is_mounted_where_postgres_runs_it() -> None:
    mounts = volume_mounts("postgresql")
    target = f"/docker-entrypoint-initdb.d/{INIT_SCRIPT.name}"
    assert (REPO_ROOT / mounts[target]).resolve() == INIT_SCRIPT
    assert os.access(INIT_SCRIPT, os.X_OK), "the entrypoint executes it (else sources it)"
    assert mounts["/var/lib/postgresql/data"] in compose()["volumes"]


def test_temporal_and_its_schema_job_use_the_postgres_credentials() -> None:
    postgres = environment("postgresql")
    schema = environment("temporal-schema")
    server = environment("temporal")
    assert schema["SQL_USER"] == server["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert schema["SQL_PASSWORD"] == server["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]
    assert schema["SQL_HOST"] == server["POSTGRES_SEEDS"] == "postgresql"
    assert schema["SQL_PLUGIN"] == server["DB"] == "postgres12"
    # The schema script sets up Temporal's default database names.
    assert "DBNAME" not in server and "VISIBILITY_DBNAME" not in server
    assert schema["SQL_USER"] != "docbatch", "Temporal must not use the store's role"


def test_temporal_dynamic_config_is_mounted() -> None:
    path = environment("temporal")["DYNAMIC_CONFIG_FILE_PATH"]
    target = path if path.startswith("/") else f"/etc/temporal/{path}"
    source = REPO_ROOT / volume_mounts("temporal")[target]
    config = yaml.safe_load(source.read_text())
    assert isinstance(config, dict)
    assert all(isinstance(values, list) for values in config.values())


def test_bind_mounts_exist_in_the_repo() -> None:
    for name in services():
        for target, source in volume_mounts(name).items():
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source} → {target}"
            else:
                assert source in compose()["volumes"], f"{name}: undeclared volume {source}"


# --- Dockerfile and .dockerignore ----------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_instructions() -> list[Instruction]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, args = stripped.partition(" ")
            result.append(Instruction(keyword.upper(), args.strip()))
    return result


def dockerfile_stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def dockerfile_base_images() -> list[str]:
    args = {}
    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.args:
            name, value = instruction.args.split("=", 1)
            args[name] = value
    images = []
    for stage in dockerfile_stages():
        image = stage[0].args.split()[0]
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


def _copy_args(instruction: Instruction) -> list[str]:
    return [arg for arg in instruction.args.split() if not arg.startswith("--")]


def dockerfile_runtime_files() -> set[str]:
    """Files the final stage copies from the build context into its WORKDIR."""
    files = set()
    for instruction in dockerfile_stages()[-1]:
        if instruction.keyword == "COPY" and "--from=" not in instruction.args:
            *sources, destination = _copy_args(instruction)
            if destination in ("./", "."):
                files |= set(sources)
    return files


def dockerfile_default_command() -> list[str]:
    command = [i for i in dockerfile_stages()[-1] if i.keyword == "CMD"][-1]
    result = json.loads(command.args)
    assert isinstance(result, list)
    return result


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder = stages[0][0].args.split()[-1]
    runtime = stages[-1]
    assert any(
        i.keyword == "COPY" and f"--from={builder}" in i.args and "/opt/venv" in i.args
        for i in runtime
    ), "the runtime stage takes the builder's venv"
    users = [i.args for i in runtime if i.keyword == "USER"]
    assert users and users[-1] == "docbatch"
    assert not any("pip install" in i.args for i in runtime if i.keyword == "RUN")


def test_dockerfile_base_images_are_pinned() -> None:
    for image in dockerfile_base_images():
        tag = image.rpartition(":")[2]
        assert re.match(r"^\d+\.\d+\.\d+", tag), f"{image} is not pinned to a release"


def test_dockerfile_installs_tesseract_with_the_projects_language_packs() -> None:
    script = (REPO_ROOT / "scripts" / "install-system-deps.sh").read_text()
    packs = re.search(r"^packs=\(([^)]*)\)", script, re.MULTILINE)
    assert packs
    wanted = {"tesseract-ocr"} | {f"tesseract-ocr-{pack}" for pack in packs.group(1).split()}
    runtime_runs = " ".join(i.args for i in dockerfile_stages()[-1] if i.keyword == "RUN")
    installed = set(re.findall(r"\btesseract-ocr[\w-]*", runtime_runs))
    assert wanted <= installed, sorted(wanted - installed)


def test_dockerfile_installs_the_libreoffice_parts_the_engine_runs() -> None:
    script = (REPO_ROOT / "scripts" / "install-system-deps.sh").read_text()
    parts = re.search(r"^for office in ([^;]*);", script, re.MULTILINE)
    assert parts
    wanted = {f"libreoffice-{part}-nogui" for part in parts.group(1).split()}
    assert wanted == {f"libreoffice-{p}-nogui" for p in ("writer", "calc", "impress")}
    runtime_runs = " ".join(i.args for i in dockerfile_stages()[-1] if i.keyword == "RUN")
    installed = set(re.findall(r"\blibreoffice-[\w-]*", runtime_runs))
    assert wanted <= installed, sorted(wanted - installed)


def test_dockerfile_sets_only_settings_the_code_reads() -> None:
    names = set()
    for instruction in dockerfile_stages()[-1]:
        if instruction.keyword == "ENV":
            names |= set(re.findall(r"(\w+)=", instruction.args))
    docbatch = {name for name in names if name.startswith(("DOCBATCH_", "TEMPORAL_"))}
    assert docbatch <= settings_env_names()
    assert "DOCBATCH_DATA_DIR" in docbatch


def dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching rule wins,
    a rule on a folder covers what is inside it)."""
    excluded = False
    parts = path.split("/")
    for line in DOCKERIGNORE.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = (
            re.escape(pattern)
            .replace(r"\*\*/", "(?:.*/)?")
            .replace(r"\*\*", ".*")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
        )
        regex = re.sub(r"\\\[([^\]]*)\\\]", r"[\1]", regex)
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_venv_and_the_data_dir_out() -> None:
    for path in (".venv", ".venv/bin/python", ".docbatch", ".docbatch/docbatch.db", ".git"):
        assert dockerignore_excludes(path), path
    for path in ("tests/test_compose.py", "docbatch/__pycache__/x.pyc", "samples/a.pdf"):
        assert dockerignore_excludes(path), path


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    for stage in dockerfile_stages():
        for instruction in stage:
            if instruction.keyword != "COPY" or "--from=" in instruction.args:
                continue
            for source in _copy_args(instruction)[:-1]:
                assert (REPO_ROOT / source).exists(), source
                assert not dockerignore_excludes(source.strip("/")), source
                if (REPO_ROOT / source).is_dir():
                    for file in (REPO_ROOT / source).rglob("*.py"):
                        relative = file.relative_to(REPO_ROOT).as_posix()
                        if "__pycache__" not in relative:
                            assert not dockerignore_excludes(relative), relative


def test_dockerignore_keeps_migrations_in() -> None:
    migrations = REPO_ROOT / "docbatch" / "migrations"
    for file in migrations.rglob("*"):
        relative = file.relative_to(REPO_ROOT).as_posix()
        if file.is_file() and "__pycache__" not in relative:
            assert not dockerignore_excludes(relative), relative


# --- The one-shot scripts, run against stand-ins for Temporal's programs -------------

FAKE_TEMPORAL = r'''
"""A stand-in for the `temporal` CLI of temporalio/admin-tools: the few operator
commands the search-attribute job uses, on a server whose state is a JSON file."""
import json, os, sys

STATE = os.environ["FAKE_TEMPORAL_STATE"]
TYPES = {"keyword": "KEYWORD", "int": "INT", "text": "TEXT", "bool": "BOOL",
         "double": "DOUBLE", "datetime": "DATETIME", "keywordlist": "KEYWORD_LIST"}
SHORT = {value: key.capitalize() for key, value in TYPES.items()}
SHORT["KEYWORD_LIST"] = "KeywordList"

with open(STATE) as f:
    state = json.load(f)
words, flags, args = [], {}, sys.argv[1:]
while args:
    arg = args.pop(0)
    if arg.startswith("--"):
        flags.setdefault(arg[2:], []).append(args.pop(0))
    else:
        words.append(arg)
state["calls"].append(words + [f"--{k}={v}" for k, vs in flags.items() for v in vs])

def done(code=0, out="", err=""):
    with open(STATE, "w") as f:
        json.dump(state, f)
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    sys.exit(code)

if "address" not in flags:
    done(1, err="no --address")
command = " ".join(words)
if command == "operator cluster health":
    if state["unhealthy_calls"] > 0:
        state["unhealthy_calls"] -= 1
        done(1, err="failed reaching server: connection refused")
    done(0, out="SERVING")
namespace = flags.get("namespace", ["default"])[0]
namespaces = state["namespaces"]
if command == "operator namespace describe":
    done(0 if namespace in namespaces else 1, err="" if namespace in namespaces else "not found")
if command == "operator namespace create":
    if namespace in namespaces:
        done(1, err="Namespace already exists")
    namespaces[namespace] = {}
    done(0)
if namespace not in namespaces:
    done(1, err=f"Namespace {namespace} is not found")
attributes = namespaces[namespace]
if command == "operator search-attribute list":
    rows = {"WorkflowId": "KEYWORD", "StartTime": "DATETIME", **attributes}
    if state["list_format"] == "enum":
        lines = [f"  {n}  INDEXED_VALUE_TYPE_{t}" for n, t in rows.items()]
    else:
        lines = [f"  {n:<24}  {SHORT[t]}" for n, t in rows.items()]
    done(0, out="\n".join(["  Name                      Type", *lines]))
if command == "operator search-attribute create":
    for name, kind in zip(flags["name"], flags["type"]):
        wanted = TYPES.get(kind.lower())
        if wanted is None:
            done(1, err=f"unsupported search attribute type: {kind}")
        if name in attributes and attributes[name] != wanted:
            done(1, err=f"search attribute {name} already exists and has different type")
        if name in attributes and state["create_says_exists"]:
            done(1, err=f"unable to add search attributes: {name} already exists")
        attributes[name] = wanted
        if state["create_says_exists"]:
            done(1, err=f"unable to add search attributes: {name} already exists")
    done(0, out="Search attributes have been added")
done(2, err=f"unknown command {command}")
'''

FAKE_SQL_TOOL = r'''
"""A stand-in for temporal-sql-tool: logs its arguments, fails the first N creates."""
import json, os, sys

STATE = os.environ["FAKE_SQL_TOOL_STATE"]
with open(STATE) as f:
    state = json.load(f)
state["calls"].append({"argv": sys.argv[1:], "password": os.environ.get("SQL_PASSWORD")})
code = 0
if "create" in sys.argv[1:] and state["failing_creates"] > 0:
    state["failing_creates"] -= 1
    code = 1
with open(STATE, "w") as f:
    json.dump(state, f)
sys.exit(code)
'''


def _install_fake(bin_dir: Path, name: str, source: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    program.write_text(f"#!{sys.executable}\n{source}")
    program.chmod(0o755)


def _run_job(
    service: str, script: Path, bin_dir: Path, extra_env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot service's script as compose would: its environment and arguments,
    POSIX ``sh`` (the image's is busybox; Debian's dash catches the same bashisms)."""
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        **environment(service),
        "RETRY_SECONDS": "0.05",
        "SETUP_TIMEOUT_SECONDS": "15",
        **extra_env,
    }
    entrypoint = services()[service]["entrypoint"]
    assert entrypoint[0] == "/bin/sh" and entrypoint[1].endswith(f"/{script.name}")
    args = [str(arg) for arg in services()[service].get("command", [])]
    return subprocess.run(
        ["sh", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _fake_temporal(tmp_path: Path, **state: Any) -> Path:
    state_file = tmp_path / "temporal-state.json"
    initial = {
        "unhealthy_calls": 0,
        "namespaces": {},
        "list_format": "short",
        "create_says_exists": False,
        "calls": [],
    }
    state_file.write_text(json.dumps(initial | state))
    _install_fake(tmp_path / "bin", "temporal", FAKE_TEMPORAL)
    return state_file


def _expected_attributes() -> dict[str, str]:
    return {key.name: key.indexed_value_type.name for key in SEARCH_ATTRIBUTES}


@pytest.mark.parametrize("list_format", ["short", "enum"])
def test_search_attribute_job_registers_everything_on_a_fresh_server(
    tmp_path: Path, list_format: str
) -> None:
    state_file = _fake_temporal(tmp_path, unhealthy_calls=3, list_format=list_format)
    result = _run_job(
        "temporal-search-attributes",
        SEARCH_ATTRIBUTE_SCRIPT,
        tmp_path / "bin",
        {"FAKE_TEMPORAL_STATE": str(state_file)},
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(state_file.read_text())
    assert state["namespaces"] == {"default": _expected_attributes()}
    assert "waiting for the Temporal frontend" in result.stderr
    creates = [call for call in state["calls"] if call[:3] == ["operator", "namespace", "create"]]
    assert len(creates) == 1
    assert "--retention=168h" in creates[0]


def test_search_attribute_job_passes_when_attributes_already_exist(tmp_path: Path) -> None:
    """A second run, or a worker's ensure_search_attributes that got there first."""
    state_file = _fake_temporal(tmp_path, namespaces={"default": _expected_attributes()})
    result = _run_job(
        "temporal-search-attributes",
        SEARCH_ATTRIBUTE_SCRIPT,
        tmp_path / "bin",
        {"FAKE_TEMPORAL_STATE": str(state_file)},
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(state_file.read_text())
    assert not [call for call in state["calls"] if "create" in call]


def test_search_attribute_job_tolerates_already_exists_errors(tmp_path: Path) -> None:
    """The CLI fails with "already exists" when it loses a race: what counts is the list."""
    state_file = _fake_temporal(tmp_path, namespaces={"default": {}}, create_says_exists=True)
    result = _run_job(
        "temporal-search-attributes",
        SEARCH_ATTRIBUTE_SCRIPT,
        tmp_path / "bin",
        {"FAKE_TEMPORAL_STATE": str(state_file)},
    )
    assert result.returncode == 0, result.stderr
    assert "already exists" in result.stderr
    state = json.loads(state_file.read_text())
    assert state["namespaces"]["default"] == _expected_attributes()


def test_search_attribute_job_fails_on_a_type_conflict(tmp_path: Path) -> None:
    conflicting = {**_expected_attributes(), "DocbatchProgress": "KEYWORD"}
    state_file = _fake_temporal(tmp_path, namespaces={"default": conflicting})
    result = _run_job(
        "temporal-search-attributes",
        SEARCH_ATTRIBUTE_SCRIPT,
        tmp_path / "bin",
        {"FAKE_TEMPORAL_STATE": str(state_file), "SETUP_TIMEOUT_SECONDS": "300"},
    )
    assert result.returncode != 0
    assert "DocbatchProgress exists with another type than Int" in result.stderr


def test_search_attribute_job_gives_up_when_temporal_never_answers(tmp_path: Path) -> None:
    state_file = _fake_temporal(tmp_path, unhealthy_calls=10_000)
    result = _run_job(
        "temporal-search-attributes",
        SEARCH_ATTRIBUTE_SCRIPT,
        tmp_path / "bin",
        {"FAKE_TEMPORAL_STATE": str(state_file), "SETUP_TIMEOUT_SECONDS": "1"},
    )
    assert result.returncode == 1
    assert "gave up after 1s waiting for the Temporal frontend" in result.stderr


def test_schema_job_sets_up_both_temporal_databases(tmp_path: Path) -> None:
    state_file = tmp_path / "sql-tool-state.json"
    state_file.write_text(json.dumps({"failing_creates": 2, "calls": []}))
    _install_fake(tmp_path / "bin", "temporal-sql-tool", FAKE_SQL_TOOL)
    result = _run_job(
        "temporal-schema",
        SCHEMA_SCRIPT,
        tmp_path / "bin",
        {"FAKE_SQL_TOOL_STATE": str(state_file)},
    )
    assert result.returncode == 0, result.stderr
    calls = json.loads(state_file.read_text())["calls"]
    assert {call["password"] for call in calls} == {SAMPLE_SECRETS["POSTGRES_PASSWORD"]}
    connection = ["--plugin", "postgres12", "--ep", "postgresql", "-p", "5432", "-u", "temporal"]
    schema = "/etc/temporal/schema/postgresql/v12"
    expected = [
        [*connection, "--db", "temporal", "create"],  # fails twice, then succeeds
        [*connection, "--db", "temporal", "create"],
        [*connection, "--db", "temporal", "create"],
        [*connection, "--db", "temporal", "setup-schema", "-v", "0.0"],
        [*connection, "--db", "temporal", "update-schema", "-d", f"{schema}/temporal/versioned"],
        [*connection, "--db", "temporal_visibility", "create"],
        [*connection, "--db", "temporal_visibility", "setup-schema", "-v", "0.0"],
        [
            *connection,
            "--db",
            "temporal_visibility",
            "update-schema",
            "-d",
            f"{schema}/visibility/versioned",
        ],
    ]
    assert [call["argv"] for call in calls] == expected


# --- The PostgreSQL init script, against a real (throwaway) cluster ------------------


def _postgres_bin_dir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@contextlib.contextmanager
def _throwaway_cluster(superuser: str) -> Iterator[tuple[Path, int]]:
    """A PostgreSQL cluster owned by the ``postgres`` account (the server refuses to run
    as root) on a free loopback port: yields its socket directory and port."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None or shutil.which("psql") is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres account to run the server as")
    if os.geteuid() != 0:
        pytest.skip("needs root to run the server as the postgres account")
    base = Path(tempfile.mkdtemp(prefix="docbatch-compose-pg-"))
    os.chown(base, account.pw_uid, account.pw_gid)
    data, port = base / "data", free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(command, user="postgres", cwd=base, check=True, capture_output=True)

    try:
        as_postgres(
            str(bin_dir / "initdb"), "-D", str(data), "-U", superuser, "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256",
        )  # fmt: skip
        as_postgres(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off",
            "start",
        )  # fmt: skip
        yield base, port
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


async def _login_and_create_a_table(url: URL) -> tuple[Any, ...]:
    """Log in with ``url``: who am I, where, may PUBLIC connect; then create a table."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT current_user, current_database(),"
                        " has_database_privilege('public', current_database(), 'CONNECT')"
                    )
                )
            ).one()
            await connection.execute(text("CREATE TABLE owned_here (id integer)"))
            return tuple(row)
    finally:
        await engine.dispose()


def test_postgres_init_script_creates_the_docbatch_role_and_database() -> None:
    """What the postgres image's entrypoint does on a fresh volume: create POSTGRES_DB,
    run the init script with the service's environment; then the API's database URL
    (host and port swapped for the throwaway cluster's) logs in and owns its database."""
    pytest.importorskip("asyncpg")
    env = environment("postgresql")
    superuser = env["POSTGRES_USER"]
    with _throwaway_cluster(superuser) as (socket_dir, port):
        psql_env = {**os.environ, "PGHOST": str(socket_dir), "PGPORT": str(port)}
        subprocess.run(
            ["psql", "-U", superuser, "-d", "postgres", "-c", f'CREATE DATABASE "{superuser}"'],
            env=psql_env,
            check=True,
            capture_output=True,
        )
        result = subprocess.run(
            [str(INIT_SCRIPT)],
            env={**psql_env, **env, "POSTGRES_DB": superuser},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

        url = make_url(environment("api")["DOCBATCH_DATABASE_URL"]).set(host="127.0.0.1", port=port)
        row = asyncio.run(_login_and_create_a_table(url))
        assert row == (url.username, url.database, False)

        # Without the password variable the script fails rather than create a role
        # nobody can log in as.
        empty = subprocess.run(
            [str(INIT_SCRIPT)],
            env={**psql_env, **env, "POSTGRES_DB": superuser, "DOCBATCH_DB_PASSWORD": ""},
            capture_output=True,
            text=True,
            check=False,
        )
        assert empty.returncode != 0
        assert "DOCBATCH_DB_PASSWORD is empty" in empty.stderr

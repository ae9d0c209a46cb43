"""``keys``: API keys created, listed and revoked from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from docbatch.cli.common import JsonOption, load_settings, open_store, out, print_json, run_command

keys = typer.Typer(help="Create, list and revoke API keys (stored hashed; shown once).")


@keys.command("create")
def keys_create(
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    organization: Annotated[str | None, typer.Option("--organization")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key for a project and print it (the only time it is shown)."""
    from docbatch.auth import create_api_key

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            row, key = await create_api_key(
                store,
                project_id=project or settings.project_id,
                organization_id=organization or settings.organization_id,
                name=name,
            )
        if as_json:
            print_json(
                {"id": row.id, "key": key, "project_id": row.project_id,
                 "organization_id": row.organization_id}
            )  # fmt: skip
        else:
            out.print(f"key id {row.id} for project {row.project_id}:")
            print(key)  # noqa: T201 - the key itself, alone on a line for scripts

    run_command(go)


@keys.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List API keys (ids, prefixes and projects; never the keys)."""

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            rows = await store.keys.list_api_keys()
        if as_json:
            print_json(
                {
                    "items": [
                        {
                            "id": row.id,
                            "prefix": row.prefix,
                            "name": row.name,
                            "project_id": row.project_id,
                            "organization_id": row.organization_id,
                            "created_at": row.created_at.isoformat(),
                            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                        }
                        for row in rows
                    ]
                }
            )
            return
        table = Table(title="API keys")
        for column in ("id", "prefix", "project", "organization", "name", "created", "revoked"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.id,
                row.prefix + "…",
                row.project_id,
                row.organization_id,
                row.name or "",
                row.created_at.isoformat(timespec="seconds"),
                row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "",
            )
        out.print(table)

    run_command(go)


@keys.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by id; requests with it then answer 401."""

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            row = await store.keys.revoke_api_key(key_id)
        out.print(f"revoked {row.id} (project {row.project_id})")

    run_command(go)

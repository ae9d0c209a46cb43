"""``/api/v1/beta/directories`` and their files, as the reference client uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from docbatch import directories
from docbatch.api.deps import BlobsDep, PrincipalDep, SettingsDep, StoreDep, reject_nul_characters
from docbatch.models import (
    Directory,
    DirectoryCreateRequest,
    DirectoryFile,
    DirectoryFileAddRequest,
    DirectoryFileUpdateRequest,
    DirectoryType,
    DirectoryUpdateRequest,
    Page,
)

router = APIRouter(
    prefix="/api/v1/beta/directories",
    tags=["directories"],
    dependencies=[Depends(reject_nul_characters)],
)

PageSize = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
UPLOAD_CHUNK = 1024 * 1024


@router.post("", response_model=Directory, summary="Create Directory")
async def create_directory(
    body: DirectoryCreateRequest, principal: PrincipalDep, store: StoreDep
) -> Directory:
    """Create an empty directory in the key's project."""
    return await directories.create_directory(store, body, project_id=principal.project_id)


@router.get("", response_model=Page[Directory], summary="List Directories")
async def list_directories(
    principal: PrincipalDep,
    store: StoreDep,
    name: str | None = None,
    type: DirectoryType | None = None,
    types: Annotated[list[DirectoryType] | None, Query()] = None,
    include_deleted: bool = False,
    page_size: PageSize = 50,
    page_token: str | None = None,
) -> Page[Directory]:
    """The project's directories, cursor-paged with ``page_token``."""
    wanted = list(types or []) + ([type] if type else [])
    return await directories.list_directories(
        store,
        project_id=principal.project_id,
        name=name,
        types=wanted,
        include_deleted=include_deleted,
        page_size=page_size,
        page_token=page_token,
    )


@router.get("/{directory_id}", response_model=Directory, summary="Get Directory")
async def get_directory(directory_id: str, principal: PrincipalDep, store: StoreDep) -> Directory:
    """One directory."""
    return await directories.get_directory(store, directory_id, project_id=principal.project_id)


@router.patch("/{directory_id}", response_model=Directory, summary="Update Directory")
async def update_directory(
    directory_id: str, body: DirectoryUpdateRequest, principal: PrincipalDep, store: StoreDep
) -> Directory:
    """Rename or describe a directory."""
    return await directories.update_directory(
        store, directory_id, body, project_id=principal.project_id
    )


@router.delete(
    "/{directory_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete Directory"
)
async def delete_directory(directory_id: str, principal: PrincipalDep, store: StoreDep) -> Response:
    """Delete a directory and its files (409 while a job over it runs)."""
    await directories.delete_directory(store, directory_id, project_id=principal.project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{directory_id}/files", response_model=DirectoryFile, summary="Add File")
async def add_file(
    directory_id: str, body: DirectoryFileAddRequest, principal: PrincipalDep, store: StoreDep
) -> DirectoryFile:
    """Add an existing file of the project to a directory."""
    return await directories.add_file(store, directory_id, body, project_id=principal.project_id)


async def upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


@router.post("/{directory_id}/files/upload", response_model=DirectoryFile, summary="Upload File")
async def upload_file(
    directory_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    upload_file: Annotated[UploadFile, File(description="The document")],
    display_name: Annotated[str | None, Form()] = None,
    external_file_id: Annotated[str | None, Form()] = None,
    metadata: Annotated[str | None, Form(description="A JSON object, as a string")] = None,
    unique_id: Annotated[str | None, Form()] = None,
) -> DirectoryFile:
    """Upload a document into a directory (a file with the same unique_id is replaced)."""
    return await directories.upload_file(
        store,
        blobs,
        directory_id,
        upload_chunks(upload_file),
        project_id=principal.project_id,
        filename=upload_file.filename,
        content_type=upload_file.content_type,
        display_name=display_name,
        external_file_id=external_file_id,
        unique_id=unique_id,
        metadata=metadata,
        max_bytes=settings.max_upload_bytes,
    )


@router.get(
    "/{directory_id}/files", response_model=Page[DirectoryFile], summary="List Directory Files"
)
async def list_files(
    directory_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    unique_id: str | None = None,
    display_name: str | None = None,
    display_name_contains: str | None = None,
    file_id: str | None = None,
    include_deleted: bool = False,
    page_size: PageSize = 100,
    page_token: str | None = None,
) -> Page[DirectoryFile]:
    """A directory's files, cursor-paged with ``page_token``."""
    return await directories.list_files(
        store,
        directory_id,
        project_id=principal.project_id,
        page_size=page_size,
        page_token=page_token,
        unique_id=unique_id,
        display_name=display_name,
        display_name_contains=display_name_contains,
        file_id=file_id,
        include_deleted=include_deleted,
    )


@router.get(
    "/{directory_id}/files/{directory_file_id}",
    response_model=DirectoryFile,
    summary="Get Directory File",
)
async def get_file(
    directory_id: str, directory_file_id: str, principal: PrincipalDep, store: StoreDep
) -> DirectoryFile:
    """One file of a directory."""
    return await directories.get_file(
        store, directory_id, directory_file_id, project_id=principal.project_id
    )


@router.patch(
    "/{directory_id}/files/{directory_file_id}",
    response_model=DirectoryFile,
    summary="Update Directory File",
)
async def update_file(
    directory_id: str,
    directory_file_id: str,
    body: DirectoryFileUpdateRequest,
    principal: PrincipalDep,
    store: StoreDep,
) -> DirectoryFile:
    """Rename, re-key, re-describe or move a file."""
    return await directories.update_file(
        store, directory_id, directory_file_id, body, project_id=principal.project_id
    )


@router.delete(
    "/{directory_id}/files/{directory_file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Directory File",
)
async def delete_file(
    directory_id: str, directory_file_id: str, principal: PrincipalDep, store: StoreDep
) -> Response:
    """Remove a file from a directory."""
    await directories.delete_file(
        store, directory_id, directory_file_id, project_id=principal.project_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Projects: test repositories (the ``project`` block executions use)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response
from sqlalchemy import func, select

from api.deps import AdminDep, RowId, SessionDep
from api.models import Project
from api.openapi import ProjectDocument
from api.schemas import Page, ProjectOut
from engine.loading import validate_model
from engine.spec import Project as ProjectSpec

router = APIRouter(prefix="/projects", tags=["projects"])

SPEC_BODY = Body(description="a project block: name, repo or path, ref, setup, image, runner")


def _validated(spec: dict[str, Any]) -> ProjectSpec:
    return validate_model(ProjectSpec, spec)


@router.post("", status_code=201, response_model=ProjectOut)
def create_project(
    session: SessionDep, _: AdminDep, spec: Annotated[ProjectDocument, SPEC_BODY]
) -> Project:
    model = _validated(spec)
    if session.scalar(select(Project).where(Project.name == model.name)) is not None:
        raise HTTPException(409, f"project {model.name!r} exists")
    project = Project(name=model.name, spec=model.model_dump(mode="json", exclude_none=True))
    session.add(project)
    session.commit()
    return project


@router.get("", response_model=Page[ProjectOut])
def list_projects(
    session: SessionDep,
    _: AdminDep,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[ProjectOut]:
    total = session.scalar(select(func.count()).select_from(Project)) or 0
    rows = session.scalars(select(Project).order_by(Project.id).offset(offset).limit(limit)).all()
    items = [ProjectOut.model_validate(r) for r in rows]
    return Page(total=total, offset=offset, limit=limit, items=items)


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: RowId, session: SessionDep, _: AdminDep) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise HTTPException(404, f"project {project_id} not found")
    return project


@router.put("/{project_id}", response_model=ProjectOut)
def replace_project(
    project_id: RowId, session: SessionDep, _: AdminDep, spec: Annotated[ProjectDocument, SPEC_BODY]
) -> Project:
    project = get_project(project_id, session, _)
    model = _validated(spec)
    project.name, project.spec = model.name, model.model_dump(mode="json", exclude_none=True)
    project.updated_at = func.now()
    session.commit()
    session.refresh(project)
    return project


@router.delete("/{project_id}", status_code=204)
def delete_project(project_id: RowId, session: SessionDep, _: AdminDep) -> Response:
    session.delete(get_project(project_id, session, _))
    session.commit()
    return Response(status_code=204)

"""``drover doctor`` and ``GET /api/v1/system/doctor``: one function over the service's settings."""

from __future__ import annotations

from api.backends import argo_settings
from api.settings import Settings
from engine.backends.argo.doctor import Check, DoctorReport, diagnose
from engine.errors import SpecError
from engine.spec import Project

__all__ = ["doctor_report"]


def doctor_report(settings: Settings) -> DoctorReport:
    """Check the cluster the service's settings point at (Argo Server, namespace, accounts,
    permissions, artifact repository, agent image)."""
    backend = Check("backend", True, "new runs go to Argo (DROVER_BACKEND=argo)")
    if settings.backend != "argo":
        backend = Check(
            "backend",
            False,
            f"new runs go to the {settings.backend} backend, in the facade's own process",
            "set DROVER_BACKEND=argo on the facade",
        )
    try:
        argo = argo_settings(settings)
    except SpecError as error:
        fix = "set DROVER_ARGO_SERVER (and DROVER_BACKEND=argo)"
        return DoctorReport([backend, Check("Argo Server", False, str(error), fix)])
    report = diagnose(
        argo,
        service_account=settings.service_account,
        agent_image=str(Project.model_fields["image"].default),
        artifact_repository=settings.argo_artifact_repository,
        controller_namespace=settings.argo_controller_namespace,
        agent_service_account=settings.agent_service_account,
    )
    report.checks.insert(0, backend)
    return report

from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "marketplace.audit"
    label = "audit"
    verbose_name = "Audit log of staff actions"

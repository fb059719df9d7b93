from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the staff site (marketplace/admin_site.py): a second factor is
    required and every edit is audited."""

    default_site = "marketplace.admin_site.StaffAdminSite"

"""Errors of the access module (codes ``access.*``)."""

from __future__ import annotations

from domain.errors import Conflict, NotFound, ValidationFailed, register


@register
class UserNotFound(NotFound):
    code = "access.user_not_found"
    title = "User not found"


@register
class RoleNotFound(NotFound):
    code = "access.role_not_found"
    title = "Role not found"


@register
class PermissionSetNotFound(ValidationFailed):
    code = "access.permission_set_not_found"
    title = "Permission set not found"


@register
class DuplicateEmail(Conflict):
    code = "access.duplicate_email"
    title = "A user with this e-mail already exists"


@register
class SuperuserRoleCannotBeAssigned(ValidationFailed):
    code = "access.superuser_role_cannot_be_assigned"
    title = "The superuser role cannot be assigned"

"""Roles, permissions and scopes as pure tables; password strength."""

from __future__ import annotations

import pytest

from anju.identity.rules import (
    ROLE_PERMISSIONS,
    ROLE_SCOPE,
    WRITE_PERMISSIONS,
    Permission,
    Role,
    ScopeKind,
    has_permission,
    password_problem,
    scope_kind,
)


def test_auditor_holds_no_write_permission() -> None:
    assert ROLE_PERMISSIONS[Role.AUDITOR] & WRITE_PERMISSIONS == frozenset()
    # ...but reads everything, and verifies the chain
    assert {
        Permission.HOUSEHOLD_READ,
        Permission.AUDIT_READ,
        Permission.AUDIT_VERIFY,
        Permission.PII_READ,
    } <= (ROLE_PERMISSIONS[Role.AUDITOR])
    assert ROLE_SCOPE[Role.AUDITOR] is ScopeKind.ALL


def test_write_permissions_are_every_permission_that_changes_something() -> None:
    # A new permission named *.write / *.import / *.manage / *.publish must be listed as a write.
    verbs = (
        "write",
        "import",
        "manage",
        "publish",
        "approve",
        "sign",
        "pay",
        "prepare",
        "operate",
        "undo",
        "delete",
        "void",
        "submit",
        "accept",
        "handle",
        "confirm",
        "review",
    )
    changing = {p for p in Permission if p.value.rsplit(".", 1)[-1] in verbs}
    assert changing == set(WRITE_PERMISSIONS)


def test_every_role_has_permissions_and_a_scope() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert set(ROLE_SCOPE) == set(Role)
    for role in Role:
        assert Permission.PROJECT_READ in ROLE_PERMISSIONS[role], role
        assert scope_kind(role.value) is ROLE_SCOPE[role]


def test_scopes_of_the_field_roles() -> None:
    assert scope_kind("team_member") is ScopeKind.ASSIGNED
    assert scope_kind("team_leader") is ScopeKind.TEAM
    assert scope_kind("case_officer") is ScopeKind.ALL
    for role in ("grid_worker", "department", "community", "admin"):
        assert scope_kind(role) is ScopeKind.NONE
        assert not has_permission(role, Permission.HOUSEHOLD_READ)


def test_only_admin_manages_users_and_admin_reads_no_household() -> None:
    assert [r for r in Role if has_permission(r.value, Permission.USER_MANAGE)] == [Role.ADMIN]
    assert not has_permission("admin", Permission.PII_READ)


def test_identity_numbers_unmasked_only_for_roles_that_need_them() -> None:
    assert {r for r in Role if has_permission(r.value, Permission.PII_READ)} == {
        Role.CASE_OFFICER,
        Role.FINANCE,
        Role.AUDITOR,
    }


def test_unknown_role_gets_nothing() -> None:
    assert not any(has_permission("root", p) for p in Permission)
    assert scope_kind("root") is ScopeKind.NONE
    assert not has_permission("", Permission.PROJECT_READ)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab1!", "密码至少 10 位"),
        ("Abcdefg1!", "密码至少 10 位"),
        ("abcdefghij", "密码须包含大写字母、小写字母、数字、符号中的至少三类"),
        ("abcdefghi1", "密码须包含大写字母、小写字母、数字、符号中的至少三类"),
        ("ABCDEFGHIJ12", "密码须包含大写字母、小写字母、数字、符号中的至少三类"),
        ("Abcdefghi1", None),
        ("abc-defgh1", None),
        ("ABC-DEFGH1", None),
        ("Test-Passw0rd!", None),
    ],
)
def test_password_problem(password: str, problem: str | None) -> None:
    assert password_problem(password) == problem

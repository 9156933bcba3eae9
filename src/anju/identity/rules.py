"""Roles, permissions and data-scope kinds: pure tables, no I/O."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles of DOMAIN.md; labels come from the message catalog (``role.<value>``)."""

    COMMANDER = "commander"  # 指挥长
    CASE_OFFICER = "case_officer"  # 征迁办经办人
    TEAM_LEADER = "team_leader"  # 专班组长
    TEAM_MEMBER = "team_member"  # 专班成员
    FINANCE = "finance"  # 财务
    AUDITOR = "auditor"  # 审计 / 纪检
    GRID_WORKER = "grid_worker"  # 网格员
    DEPARTMENT = "department"  # 部门
    COMMUNITY = "community"  # 社区/街道受理员: books residents' requests (组织定单), runs the time bank
    ADMIN = "admin"  # 系统管理员


class Permission(StrEnum):
    """Actions a route can require. Checked server-side on every request."""

    PROJECT_READ = "project.read"
    HOUSEHOLD_READ = "household.read"
    HOUSEHOLD_WRITE = "household.write"
    HOUSEHOLD_IMPORT = "household.import"
    LEDGER_EXPORT = "ledger.export"
    PII_READ = "pii.read"  # see identity numbers unmasked
    ATTACHMENT_WRITE = "attachment.write"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    USER_MANAGE = "user.manage"
    POLICY_READ = "policy.read"
    POLICY_PUBLISH = "policy.publish"
    BUDGET_READ = "budget.read"  # project-wide budgets and what-if
    PROJECT_MANAGE = "project.manage"  # create and edit projects, blocks, parcels, targets
    CAMPAIGN_READ = "campaign.read"  # progress, dashboards, big screen, battle map (households in scope)
    CAMPAIGN_MANAGE = "campaign.manage"  # teams, assignments, hard cases, escalation
    VISIT_WRITE = "visit.write"  # log visits, keep 一户一策 plans of households in scope
    DISPATCH_WRITE = "dispatch.write"  # draft and issue the daily dispatch report
    AGREEMENT_SIGN = "agreement.sign"  # sign agreements, request amendments/cancellations, templates, terms
    AGREEMENT_APPROVE = "agreement.approve"  # approve amendments and cancellations (a leader)
    CLEARANCE_WRITE = "clearance.write"  # vacating acceptance, demolition, tenant clearance records
    PAYMENT_READ = "payment.read"  # payment schedules, batches, the funds view
    PAYMENT_PREPARE = "payment.prepare"  # prepare, submit and export batches, import bank results
    PAYMENT_APPROVE = "payment.approve"  # approve or reject a batch someone else prepared
    HOUSING_MANAGE = "housing.manage"  # estates, flat stock, selection events and their order
    SELECTION_OPERATE = "selection.operate"  # run a selection event: call households, confirm, skip
    SELECTION_UNDO = "selection.undo"  # undo a confirmed selection (a supervisor, with a reason)
    GRID_READ = "grid.read"  # grids, the grid map, requests and their indicators, mediation records
    GRID_MANAGE = "grid.manage"  # communities, grids, departments, request categories, Open311 keys
    REQUEST_SUBMIT = "request.submit"  # submit a request on a resident's behalf (居民点单 by a grid worker)
    REQUEST_ACCEPT = "request.accept"  # 组织定单: accept, reject, merge; approve postponements
    REQUEST_HANDLE = "request.handle"  # 部门接单 / 党员晒单: take, send back, ask to postpone, publish
    REQUEST_CONFIRM = "request.confirm"  # 群众验单 on a resident's behalf (a grid worker at the door)
    MEDIATION_WRITE = "mediation.write"  # mediation (矛盾调解) records: parties, sessions, outcome
    TIMEBANK_READ = "timebank.read"  # volunteers, activities, hours, ledgers, moral-bank points
    TIMEBANK_MANAGE = "timebank.manage"  # activities, sign-up, check-in, redemptions, transfers
    TIMEBANK_REVIEW = "timebank.review"  # approve volunteers' hours (two reviewers, never the volunteer)
    SELECTION_WATCH = "selection.watch"  # the selection big screen (选房大屏) and its event stream
    SCENARIO_WRITE = "scenario.write"  # save, rename and archive named what-if scenarios


class ScopeKind(StrEnum):
    """How far a role's household data reaches."""

    ALL = "all"  # every household of every project
    TEAM = "team"  # households assigned to the user's team
    ASSIGNED = "assigned"  # households assigned to the user personally
    NONE = "none"  # no household data


P = Permission
_READ = {P.PROJECT_READ, P.HOUSEHOLD_READ, P.POLICY_READ, P.CAMPAIGN_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.COMMANDER: frozenset(
        _READ
        | {
            P.LEDGER_EXPORT,
            P.AUDIT_READ,
            P.BUDGET_READ,
            P.PROJECT_MANAGE,
            P.CAMPAIGN_MANAGE,
            P.DISPATCH_WRITE,
            P.AGREEMENT_APPROVE,
            P.PAYMENT_READ,
            P.PAYMENT_APPROVE,
            P.SELECTION_UNDO,
            P.GRID_READ,
            P.TIMEBANK_READ,
            P.SELECTION_WATCH,
            P.SCENARIO_WRITE,
        }
    ),
    Role.CASE_OFFICER: frozenset(
        _READ
        | {
            P.HOUSEHOLD_WRITE,
            P.HOUSEHOLD_IMPORT,
            P.LEDGER_EXPORT,
            P.PII_READ,
            P.ATTACHMENT_WRITE,
            P.AUDIT_READ,
            P.POLICY_PUBLISH,
            P.BUDGET_READ,
            P.PROJECT_MANAGE,
            P.CAMPAIGN_MANAGE,
            P.VISIT_WRITE,
            P.DISPATCH_WRITE,
            P.AGREEMENT_SIGN,
            P.CLEARANCE_WRITE,
            P.PAYMENT_READ,
            P.HOUSING_MANAGE,
            P.SELECTION_OPERATE,
            P.SELECTION_WATCH,
            P.SCENARIO_WRITE,
        }
    ),
    Role.TEAM_LEADER: frozenset(_READ | {P.HOUSEHOLD_WRITE, P.ATTACHMENT_WRITE, P.VISIT_WRITE}),
    Role.TEAM_MEMBER: frozenset(_READ | {P.HOUSEHOLD_WRITE, P.ATTACHMENT_WRITE, P.VISIT_WRITE}),
    Role.FINANCE: frozenset(
        _READ
        | {P.LEDGER_EXPORT, P.PII_READ, P.BUDGET_READ, P.PAYMENT_READ, P.PAYMENT_PREPARE, P.SCENARIO_WRITE}
    ),
    Role.AUDITOR: frozenset(
        _READ
        | {
            P.LEDGER_EXPORT,
            P.PII_READ,
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.BUDGET_READ,
            P.PAYMENT_READ,
            P.GRID_READ,
            P.TIMEBANK_READ,
        }
    ),
    Role.GRID_WORKER: frozenset(
        {
            P.PROJECT_READ,
            P.GRID_READ,
            P.REQUEST_SUBMIT,
            P.REQUEST_CONFIRM,
            P.MEDIATION_WRITE,
            P.TIMEBANK_READ,
            P.TIMEBANK_MANAGE,
        }
    ),
    Role.DEPARTMENT: frozenset({P.PROJECT_READ, P.GRID_READ, P.REQUEST_HANDLE}),
    Role.COMMUNITY: frozenset(
        {
            P.PROJECT_READ,
            P.GRID_READ,
            P.GRID_MANAGE,
            P.REQUEST_SUBMIT,
            P.REQUEST_ACCEPT,
            P.REQUEST_CONFIRM,
            P.MEDIATION_WRITE,
            P.TIMEBANK_READ,
            P.TIMEBANK_MANAGE,
            P.TIMEBANK_REVIEW,
        }
    ),
    Role.ADMIN: frozenset({P.PROJECT_READ, P.USER_MANAGE, P.AUDIT_VERIFY, P.GRID_READ, P.GRID_MANAGE}),
}

ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.COMMANDER: ScopeKind.ALL,
    Role.CASE_OFFICER: ScopeKind.ALL,
    Role.TEAM_LEADER: ScopeKind.TEAM,
    Role.TEAM_MEMBER: ScopeKind.ASSIGNED,
    Role.FINANCE: ScopeKind.ALL,
    Role.AUDITOR: ScopeKind.ALL,
    Role.GRID_WORKER: ScopeKind.NONE,
    Role.DEPARTMENT: ScopeKind.NONE,
    Role.COMMUNITY: ScopeKind.NONE,
    Role.ADMIN: ScopeKind.NONE,
}

# Permissions that write: the auditor role must never hold one (checked by a unit test).
WRITE_PERMISSIONS = frozenset(
    {
        P.HOUSEHOLD_WRITE,
        P.HOUSEHOLD_IMPORT,
        P.ATTACHMENT_WRITE,
        P.USER_MANAGE,
        P.POLICY_PUBLISH,
        P.PROJECT_MANAGE,
        P.CAMPAIGN_MANAGE,
        P.VISIT_WRITE,
        P.DISPATCH_WRITE,
        P.AGREEMENT_SIGN,
        P.AGREEMENT_APPROVE,
        P.CLEARANCE_WRITE,
        P.PAYMENT_PREPARE,
        P.PAYMENT_APPROVE,
        P.HOUSING_MANAGE,
        P.SELECTION_OPERATE,
        P.SELECTION_UNDO,
        P.GRID_MANAGE,
        P.REQUEST_SUBMIT,
        P.REQUEST_ACCEPT,
        P.REQUEST_HANDLE,
        P.REQUEST_CONFIRM,
        P.MEDIATION_WRITE,
        P.TIMEBANK_MANAGE,
        P.TIMEBANK_REVIEW,
        P.SCENARIO_WRITE,
    }
)


def has_permission(role: str, permission: Permission) -> bool:
    """Whether ``role`` grants ``permission``; unknown roles grant nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def scope_kind(role: str) -> ScopeKind:
    """The data-scope kind of ``role``; unknown roles see nothing."""
    try:
        return ROLE_SCOPE[Role(role)]
    except ValueError:
        return ScopeKind.NONE


def password_problem(password: str) -> str | None:
    """Chinese reason why a password is too weak, or ``None``."""
    if len(password) < 10:
        return "密码至少 10 位"
    kinds = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if kinds < 3:
        return "密码须包含大写字母、小写字母、数字、符号中的至少三类"
    return None

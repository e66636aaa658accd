"""One class per thing a caller can ask of the service."""

from domain.use_cases.authenticate_token import AuthenticateToken, bearer_token
from domain.use_cases.internal_issue_token import InternalIssueToken
from domain.use_cases.internal_logout_all import InternalLogoutAll
from domain.use_cases.issue_token import IssueToken
from domain.use_cases.list_sessions import ListSessions
from domain.use_cases.logout_all_devices import LogoutAllDevices
from domain.use_cases.logout_token import LogoutToken
from domain.use_cases.revoke_session import RevokeSession

__all__ = [
    "AuthenticateToken",
    "InternalIssueToken",
    "InternalLogoutAll",
    "IssueToken",
    "ListSessions",
    "LogoutAllDevices",
    "LogoutToken",
    "RevokeSession",
    "bearer_token",
]

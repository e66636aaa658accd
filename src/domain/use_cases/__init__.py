"""One class per thing a caller can ask of the service."""

from domain.use_cases.authenticate_token import AuthenticateToken, bearer_token
from domain.use_cases.internal_issue_token import InternalIssueToken
from domain.use_cases.internal_logout_all import InternalLogoutAll
from domain.use_cases.issue_token import IssueToken
from domain.use_cases.logout_all_devices import LogoutAllDevices
from domain.use_cases.logout_token import LogoutToken

__all__ = [
    "AuthenticateToken",
    "InternalIssueToken",
    "InternalLogoutAll",
    "IssueToken",
    "LogoutAllDevices",
    "LogoutToken",
    "bearer_token",
]
